"""The answer's prompt, composed (the writer's first part, bot/reply/writer.py): the prompt data (read
with the message's log write when it could be), the greeting shown, what the features supply (their prompt
parts, each in its slot of the layout), and the model call; bot/reply/prompting.py lays the prompt out."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from bot.core.config import ModelSettings, ReplySettings
from bot.core.models.base import Prompt
from bot.core.persona.macros import Moment
from bot.core.persona.model import Persona
from bot.core.stages import Incoming, PromptPart
from bot.reply.deciding import IntentRouter
from bot.reply.generation import ModelCall
from bot.reply.greetings import Greeter, Opening
from bot.reply.persona_runtime import PersonaRuntime
from bot.reply.prompting import ReplyExtras, build_reply_prompt
from bot.reply.room import replied_name, why_part
from bot.reply.transcript import TranscriptWindows, fetch_limit
from database.conversations import Conversations
from database.log import MessageLog
from database.records import PromptData, PromptRequest, SeenMessage


@dataclass(frozen=True)
class Prefetched:
    """Prompt data read in the same database trip as the message's log write; good while the store's
    history stamp for the conversation is unchanged (its history has not changed since it was read)."""

    data: PromptData
    stamp: tuple[int, int]


def prompt_request(character_key: str, msg: Incoming, recent_channel_messages: int) -> PromptRequest:
    """What a reply's prompt reads for a reply to ``msg`` (with its log write, when it is certain)."""
    return PromptRequest(character_key, msg.author_id, msg.scope, msg.channel_id,
                         0 if msg.is_dm else fetch_limit(recent_channel_messages), msg.message_id,
                         msg.is_dm, None if msg.is_dm else msg.guild_id)


class PromptComposer:
    """One character's prompts: ``parts``, what the features supply (in the composition root's order)."""

    def __init__(self, conversations: Conversations, messages: MessageLog, replies: ReplySettings,
                 models: ModelSettings, character_key: str, greeter: Greeter,
                 runtime: PersonaRuntime, accounts: Collection[int], parts: tuple[PromptPart, ...],
                 intents: IntentRouter, names_me: Callable[[Incoming], bool]) -> None:
        """``replies`` and ``models``: sections read at each reply; ``names_me``: whether a message names the
        character (bot/reply/deciding/addressing.py): the prompt says why the character answers."""
        self.conversations = conversations
        self.messages = messages
        self.replies = replies
        self.models = models
        self.character_key = character_key
        self.greeter = greeter
        self.persona_runtime = runtime
        self.own_author_ids = accounts
        self.parts = parts
        self.intents = intents
        self.transcripts = TranscriptWindows()  # where each channel's cached transcript starts
        self.names_me = names_me

    def prompt_request(self, msg: Incoming) -> PromptRequest:
        """What build_prompt() reads for a reply to ``msg``."""
        return prompt_request(self.character_key, msg, self.replies.recent_channel_messages)

    async def prompt_data(self, msg: Incoming, prefetched: Prefetched | None) -> PromptData:
        """Read with the log write, unless a history has changed since. When the only change is an exchange
        stored in this conversation (the reply to an earlier message of it, as on a busy server where
        replies queue up), the person and the conversation are read again and the channel's lines before
        the message kept; any other change (a /forget_me, a summary) reads everything again."""
        data = None
        if prefetched is not None:
            changes, appends = self.conversations.history_stamp(self.character_key, msg.author_id,
                                                                      msg.scope)
            if (changes, appends) == prefetched.stamp:
                data = prefetched.data
            elif changes == prefetched.stamp[0]:
                data = await self.conversations.prompt_data_again(prefetched.data,
                                                                        self.prompt_request(msg))
        return data or await self.read_prompt_data(msg)

    async def read_prompt_data(self, msg: Incoming) -> PromptData:
        return await self.conversations.prompt_data_of(self.prompt_request(msg))

    async def build_prompt(self, msg: Incoming, persona: Persona, *, ooc_context: str = "",
                           replace_last_reply: bool = False, see_later: bool = False,
                           data: PromptData | None = None,
                           opening: Opening | None = None) -> tuple[Prompt, bool]:
        """The reply prompt for ``msg`` and whether its author is premium; ``persona``: the character as it
        plays in the message's place (bot/core/persona/register.py ``in_place``, the pipeline's); ``data``:
        its prompt data if already read (see prompt_request); ``opening``: the greeting this reply posted
        first, if any."""
        data = data or await self.read_prompt_data(msg)
        greeting = opening.text if opening is not None else await self.greeter.shown(data, msg)
        later: list[SeenMessage] = []
        if see_later and not msg.is_dm:
            later = [m for m in await self.messages.recent_messages(msg.channel_id, limit=10)
                     if m.message_id > msg.message_id]
        lines = None if msg.is_dm else self.transcripts.window(msg.channel_id, data.recent,
                                                               self.replies.recent_channel_messages)
        why = "" if msg.is_dm else why_part(msg, self.names_me(msg), replied_name(
            msg.reply_to_id, {m.message_id: m for m in data.recent}, self.own_author_ids, persona.name))
        moment = self.persona_runtime.moment(msg, data)
        prompt = build_reply_prompt(persona, data, msg, extras=await self.extras(persona, msg, data, moment),
                                    moment=moment,
                                    greeting=greeting, ooc_context=ooc_context,
                                    replace_last_reply=replace_last_reply,
                                    since=later, own_ids=self.own_author_ids, transcript=lines, why=why)
        return prompt, data.premium

    async def extras(self, persona: Persona, msg: Incoming, data: PromptData, moment: Moment) -> ReplyExtras:
        """What the features supply to the reply to ``msg``, as data for the layout: each prompt part fills
        its slot (an instruction adds a line), in the order the composition root gave them."""
        runtime = self.persona_runtime
        instructions = runtime.instructions(persona, msg, data)
        slots: dict[str, str] = {}
        for part in self.parts:
            if msg.is_dm and not part.in_dms:
                continue
            text = await part.supply(persona, msg, data)
            if not text:
                continue
            if part.slot == "instructions":
                instructions.append(text)
            else:
                slots[part.slot] = f"{slots[part.slot]}\n\n{text}" if part.slot in slots else text
        return ReplyExtras(
            **await runtime.lore_extras(persona, msg, data),  # the world, and the lore by its places
            recall=slots.get("recall", ""), threads=slots.get("threads", ""),
            feelings=slots.get("feelings", ""), felt=slots.get("felt", ""), style=slots.get("style", ""),
            emotes=slots.get("emotes", ""),
            macro_note=runtime.macro_note(persona, msg, data, moment),
            instructions=instructions)

    def model_call(self, msg: Incoming, persona: Persona, premium: bool) -> ModelCall:
        """How the reply to ``msg`` is asked: premium users keep their model; others get the one of the
        message's intent (code, image). The effort goes by tier, not by model: a premium model that is also
        the default stays at reply_effort."""
        models = self.models
        model = models.premium_model if premium else self.intents.model_for(msg, models.default_model)
        return ModelCall(model, msg.author_id, msg.guild_id, persona.max_tokens, persona.temperature,
                         models.premium_reply_effort if premium else models.reply_effort)

