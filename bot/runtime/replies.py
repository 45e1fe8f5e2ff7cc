"""The composition root's reply part: each character's :class:`ReplyPipeline` built from its stages, each
stage given what it reads (a repository, a settings section following reloads). Called by
bot/runtime/composition.py (``compose_character``, ``compose_ensemble``) and nothing else: the pipeline and
its stages build nothing of each other."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from bot.core.config import (
    EnsembleSettings,
    ModelSettings,
    ReplySettings,
    SecretSettings,
    Settings,
)
from bot.core.config.holder import section_of
from bot.core.config.sections import TriageSettings
from bot.core.keyed import KeyedLocks
from bot.core.localtime import load_zone
from bot.core.policy import ServerPolicies
from bot.core.stages import Features, MemoryConsent, OwnAccounts, ThreadTalk
from bot.reply.admission import Admission
from bot.reply.composing import PromptComposer
from bot.reply.deciding import (
    Addressee,
    Ballot,
    CardVocabulary,
    Decider,
    FirstLook,
    IntentRouter,
    TurnTaking,
    Voting,
)
from bot.reply.delivery import finish_text
from bot.reply.greetings import Greeter
from bot.reply.greetingwords import GreetingRenderings
from bot.reply.imagebudget import ImageBudget
from bot.reply.keeping import ExchangeKeeper
from bot.reply.owed import OwedMarks
from bot.reply.persona_runtime import PersonaRuntime
from bot.reply.pipeline import ReplyPipeline, Stages
from bot.reply.throttle import BotThrottle
from bot.reply.writer import ReplyWriter
from database.store import Store


@dataclass(frozen=True)
class Shared:
    """What every character's replies share in one process: each server's effective settings, the vote
    rounds' pacing, the image bytes in flight, the one memory consent (None: a bot without memory, where
    every exchange is stored)."""

    policies: ServerPolicies
    ballot: Ballot
    images: ImageBudget
    consent: MemoryConsent | None
    card_words: CardVocabulary  # the first look's cards' words in other languages, made by the voting model
    greetings: GreetingRenderings  # the cards' greetings in other languages, made by the reply model
    # the threads the bot opens to go on with a conversation (/bot threads: a feature's,
    # bot/features/threads/; None: no feature lends them)
    threads: ThreadTalk | None

    @staticmethod
    def of(settings: Settings, store: Store, claude: ClaudeClient, policies: ServerPolicies,
           consent: MemoryConsent | None, threads: ThreadTalk | None = None) -> Shared:
        card_words = CardVocabulary(store.card_words, claude, lambda: settings.replies.voting_model)
        greetings = GreetingRenderings(store.card_words, claude, lambda: settings.models.default_model)
        return Shared(policies, Ballot(claude, settings), ImageBudget(settings.media.image_bytes_in_flight),
                      consent, card_words, greetings, threads)


def compose_pipeline(settings: Settings, store: Store, claude: ClaudeClient, character: CharacterSource,
                     features: Features, shared: Shared, *, accounts: OwnAccounts, addressee: Addressee,
                     intents: IntentRouter, locks: KeyedLocks[tuple[int, str]]) -> ReplyPipeline:
    """One character's pipeline, its stages in order, each given what the features add to it;
    ``accounts``: the character's own (filled at login); ``addressee`` and ``intents``: who the character is
    asked by, and what about, when others ask it too (the spending limits, memory's recall budget);
    ``locks``: one reply at a time per conversation (shared with what else speaks in one, a reminder)."""
    key = character.key
    replies = section_of(settings, ReplySettings)  # of the running settings: follows reloads
    triage = section_of(settings, TriageSettings)
    names = addressee.names
    throttle = BotThrottle(replies)
    # Lorebook, framework blend, evolution: every character has them (they cost nothing when unused).
    runtime = PersonaRuntime(store.characters, key, character.current, load_zone(settings.alive.timezone))
    turns = TurnTaking(store.log, section_of(settings, EnsembleSettings), names, accounts)
    owed = OwedMarks(key, store.owed, store.log)
    # Which unaddressed messages deserve a vote at all, and each channel's vote window by its pace.
    first_look = FirstLook(triage, character.current, vocabulary=shared.card_words)
    voting = Voting(shared.ballot, store.log, replies, triage, character.current, accounts,
                    shared.policies.of, first_look.window)
    greeter = Greeter(replies, store.state, key, accounts,
                      functools.partial(finish_text, features.reply_filters), names, runtime.zone,
                      shared.greetings, shared.ballot)
    composer = PromptComposer(store.conversations, store.log, replies, section_of(settings, ModelSettings),
                              key, greeter, runtime, accounts, features.prompt_parts, intents,
                              addressee.names_me)
    admission = Admission(store.log, store.places, store.privacy, store.conversations, replies,
                          section_of(settings, SecretSettings), key, addressee, throttle, turns,
                          shared.policies, features, owed)
    decider = Decider(addressee, throttle, turns, triage, voting, shared.policies, intents, accounts,
                      features.decision_observers, first_look, shared.threads)
    keeper = ExchangeKeeper(store.conversations, store.privacy, key, owed,
                            (runtime.on_turn, *features.turn_observers), shared.consent, locks)
    writer = ReplyWriter(settings, claude, character, composer, keeper, owed, store.privacy,
                         shared.images, features)
    return ReplyPipeline(character, accounts, Stages(addressee, admission, decider, throttle, turns, owed,
                                                     writer, tuple(features.readers)))
