"""Every regular expression that reads text a person, a card or the model wrote, fed adversarial input of
Discord's maximum message length (issue 43).

For each entry point (the function the bot calls, so the test covers what runs, not a copy of a pattern),
the inputs are 4,000 characters of: repeats of its own patterns' alternatives ("ok ok ok ... x"), joined
by separators and ending in a non-match; nested brackets; long runs of one character. One call may take
a second at most: the normal cost is microseconds to a few milliseconds, so only exponential or badly
quadratic behaviour reaches the bound, on any machine. A call that hangs is stopped by an alarm and fails.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import pytest

from bot.alive import appraisal, emotes, emotions, status, style
from bot.core import attachments, durations, localtime, text, topics
from bot.core import language as guessing
from bot.core.persona import blend, cards, framework, lorebook, lorekeys, macros, modes, template
from bot.core.persona.model import Lorebook, LoreEntry
from bot.discord import posting
from bot.features.mcp import admin as mcp_admin
from bot.features.mcp import schema as mcp_schema
from bot.features.polls import lifecycle as polls
from bot.features.reminders import book as reminders
from bot.features.servertools import moderation, settings
from bot.features.voice import speech as voice
from bot.features.websearch import lender as websearch
from bot.operator.admin import language
from bot.reply import delivery, felt, guard, prompting, splitting
from bot.reply.deciding import addressing, intent, router, triage
from memory import facts, lexical, passtext, present, recall, slots, timewords
from personaflow.core import memory as pf_memory
from personaflow.utils import validators

MAX_CHARS = 4000  # Discord's longest message (with Nitro)
BOUND_SECONDS = 1.0  # of the calling thread's CPU time (the alarm below is wall-clock)
ALARM_SECONDS = 5  # a call still running then is stopped (it would otherwise take hours)

# Pieces every entry point gets, besides its own patterns' words.
GENERIC = ("a", "aa", "ab ", " ", "\t", "\n", "\n ", "x ", "1", "1 ", "12-", "_", "__", "a.", "a(", "a(.",
           ".", "!", "?", "(", ")", "[", "]", "{", "{{", "}}", "<", "<@", "<@&", "<#", "<a:", ":", ":a", "@",
           "#", "*", "-", "- ", "`", "```", "    x\n", "\\", "/", "${", "é", "👍", "ok ", "lol ", ", ",
           "return ", "SELECT ", "you said ", "def f(", "x.y(", "<:a:1", "[MODE:", "status: ")
ENDINGS = ("\x00", "x", "!")


def _words(patterns: tuple[re.Pattern[str] | str, ...]) -> list[str]:
    """The literal words inside the patterns: what repeats of "its own alternatives" are made of."""
    found: set[str] = set()
    for p in patterns:
        source = p.pattern if isinstance(p, re.Pattern) else p
        found.update(w for w in re.findall(r"[A-Za-z]{1,16}", source) if len(w) > 1)
    return sorted(found)[:60]


def inputs(patterns: tuple[re.Pattern[str] | str, ...]) -> Iterator[str]:
    for piece in (*_words(patterns), *GENERIC):
        for unit, end in zip((piece, piece + " ", piece + ", "), ENDINGS, strict=True):
            yield (unit * (MAX_CHARS // len(unit) + 1))[: MAX_CHARS - 1] + end
    for opening, closing in (("(", ")"), ("[", "]"), ("{{", "}}"), ("<", ">"), ("```", "")):
        half = MAX_CHARS // 2 // len(opening)
        yield opening * half + closing * half
        yield (opening + "a") * (half // 2)


class _Stalled(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Stalled


NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
LORE = Lorebook(entries=(
    LoreEntry(keys=("glade", "/\\bel(?:dor|vish)ia\\b/i"), content="The glade is sacred.", name="glade"),
    LoreEntry(keys=("moon",), secondary_keys=("red",), selective=True, content="A red moon means war."),
), scan_depth=4)
PERSONA_NAMES = addressing.NameMatcher(["Finn", "Seraphina", "Sera", "finn the fox"])
ROOMS = {"finn": ["Finn", "finn the fox"], "sera": ["Seraphina", "Sera"]}


def _swallow(fn: Callable[[str], Any]) -> Callable[[str], Any]:
    """Parsers answer bad input with ValueError (a clear message): that is an answer, not a stall."""
    def call(text: str) -> Any:
        try:
            return fn(text)
        except (ValueError, cards.ConfigError):
            return None
    return call


# name -> (the entry point, the patterns it runs)
ENTRY_POINTS: dict[str, tuple[Callable[[str], Any], tuple[re.Pattern[str] | str, ...]]] = {
    "triage: acknowledgement": (triage.is_acknowledgement, (
        "ok lol jajaja genau 草 rsrs ㅋㅋㅋ хахаха wwww 555 ありがとう", triage._CUSTOM_EMOJI,
        triage._SHORTCODE, triage._ACK_SEPARATORS,
        triage._HAN, triage._NOT_ALNUM, triage._ALNUM, triage._ALPHA,
        "lool lmaooo hahaha hehehe okkk kkk mhmmm hmmm xddd ahhh ohhh jajajaj kkkkk ㅋㅋㅋㅋ")),
    "triage: another bot's command": (lambda t: triage.bot_command(t, ("!", ";;", "?")), ()),
    "intent: code, traceback": (lambda t: (intent.looks_like_code(t), intent.is_question(t)),
                                (intent._FENCE, intent._TRACE, intent._CODE_WORDS)),
    "prompt fences: names cleaned, tags defused": (
        lambda t: (text.clean_name(t), text.defuse(t)),
        (text._UNSAFE_NAME, text._PROMPT_TAG, " ".join(text.PROMPT_TAGS))),
    "text: a name written as Discord text": (
        text.discord_name, (text._MARKDOWN, text._MASS_MENTION, "everyone here")),
    "text: a greeting cut at a sentence": (lambda t: text.cut_at_sentence(t, 3600), (text.SENTENCE_END,)),
    "names: addressed": (lambda t: (PERSONA_NAMES(t), addressing.first_position(t, ["Finn", "Sera"]),
                                    addressing.addressed_order(t, ROOMS)), ("Finn Seraphina Sera fox",)),
    # (accents folded: the name matcher's fold, and folder names; with the accents and marks they fold)
    "names: accents folded": (lambda t: (PERSONA_NAMES(t + "ñé\u0303"), text.unaccented(t + "Ł"),
                                         template.folder_name_for(t + "ñ")),
                              (text._MARKS_ON_LATIN, text._MARK, text._ACCENTABLE, text._LATIN_ACCENTED,
                               template._NOT_IN_FOLDER.pattern, "Niña Łucja")),
    "topics": (lambda t: topics.topic_hits(t, [*topics.CATEGORIES, "red moon", "sea shanties"]),
               tuple(topics.CATEGORIES.values())),
    "time words": (lambda t: timewords.window(t, NOW), (
        timewords.ISO, timewords._RELATIVE_KEY, timewords._YEAR, timewords._DAY_BEFORE, timewords._DAY_AFTER,
        "last week yesterday la semana pasada en mayo 13 October 2023 先週 2023年10月13日")),
    "time words: a question about the past": (lambda t: timewords.asked(t, NOW), (
        timewords.QUESTION, timewords.PAST, timewords.FIRST_PERSON, timewords.ABOUT_YOU, "? ？ ¿ ؟ ;")),
    "recall: a summary's clauses": (present.clauses, (present.CLAUSE,)),
    "person block: the stretch of a clause a memory says": (
        lambda t: present.said_once("alice", ["Alice lives in Leeds", t], [], t),
        (lexical._UNIT, present.CLAUSE, "Alice lives in Leeds and 、。 アリス")),
    "recall: a core memory's pieces": (lambda t: present.pieces([t]), (present.PIECE, ", ; 。 ！")),
    "the language a message is written in": (guessing.guess, (
        guessing._CJK, guessing._KANA, guessing._HANGUL, guessing._HAN, guessing._ENOUGH_LETTERS,
        guessing._NOISE, "ok lol 草 ㅋㅋㅋ ありがとう <:pog:123456> <@123> https://x.y 1 2 3")),
    "lexical search terms": (lambda t: (lexical.terms(t), lexical.LexicalIndex.build([t]).naming(t)),
                             (lexical._WORD, lexical._CJK_RE)),
    "recall: Japanese cut where its script changes": (
        lambda t: [lexical.is_grammar(p) for p in lexical.pieces(t)],
        (lexical._SCRIPT_RUN, lexical._HIRAGANA, "キャロラインはキャンプに行った・の本 abc")),
    "recall: the mentions a message opens with": (recall.asked_of, (recall._OPENING_MENTIONS,)),
    "style: learn": (lambda t: style.learn(None, t),
                     (style._WORD, style._EMOJI)),
    "feelings: signs any language shares": (appraisal.appraise, (appraisal._ASTONISHED, "?! !? ?? <3 :(")),
    "feelings: the model's tag in a reply": (
        lambda t: (felt.split(t), felt.shown(t), felt.split("<felt>" + t), felt.shown("<felt>" + t[:90]),
                   felt.kinds_of(t)),
        (felt._TAG, felt._OPEN, felt._CLOSE, felt._SEPARATOR, "<felt> </felt> felt warmth distress none")),
    "style: mentions removed": (lambda t: style._MENTION.sub("", t), (style._MENTION,)),
    "framework blend: kind of conversation": (blend.detect_context,
                                              (*blend._CONTEXT_PATTERNS.values(), blend._CALL)),
    "lorebook: keys (literal and the card's regex)": (lambda t: lorebook.activate(LORE, [t]),
                                                      ("glade eldoria elvishia moon red", lorekeys._WORD)),
    "macros": (lambda t: (macros.render_macros(t, char="Finn", user=t[:100]), macros.time_macros_in([t]),
                          macros.chance_macros(t, seed=1), macros.chance_macros("{{roll:" + t[:200] + "}}")),
               (macros._MACRO, macros._TIME_MACRO, macros._CHANCE, macros._DICE, macros._COMMENT,
                macros._TRIM)),
    "repetition guard: openers and phrases": (
        lambda t: guard.variety_note([t, t, t, t], [t]),
        (guard._GUARD_WORD, guard._SENTENCE_END, guard._HAN, guard._KANA,
         "the tide! 潮はやさしい。潮水很温柔")),
    "card: char and user macros": (lambda t: cards.compile_card_prompt({"scenario": t}, "Finn"),
                                   ("BOT USER char user original",)),
    "card: example blocks": (cards.format_examples, ("START",)),
    "card: first sentence": (cards.first_sentence, ()),
    "framework: placeholders": (_swallow(lambda t: framework.fill_template(t, {"name": "Finn"}, "f.json")),
                                (framework._PLACEHOLDER,)),
    "template: character name": (lambda t: (template._NAME.fullmatch(t), template._NAME_LINE.sub("", t),
                                            template.usable_folder_name(t)),
                                 (template._NAME.pattern, template._NAME_LINE, template._FOLDER.pattern)),
    "framework: ids": (framework._SLUG.fullmatch, (framework._SLUG,)),
    "splitting a reply": (splitting.split_message, (text.SENTENCE_END,)),
    "slots: a slot's key and value": (lambda t: (slots.parse_slot(f"home:{t}"), slots.same_value(t, None, t)),
                                       (slots._KEY_PART,)),
    "delivery: sentence ends": (lambda t: list(delivery._SENTENCE_END.finditer(t)),
                                (delivery._SENTENCE_END,)),
    "delivery: a first clause said ahead": (text.first_clause, (text.CLAUSE_END, text._CJK_LETTER,
                                                                "a, b; c: d、e，")),
    "links a message carries (web fetch)": (websearch.links, (websearch._LINK, "https://a.b/c")),
    "MCP: a server's name and tools as an admin typed them, a tool's name as its server listed it": (
        lambda t: (mcp_admin.NAME.match(t), mcp_admin.tool_list(t), mcp_schema.checked("s", t, t, {})),
        (mcp_admin.NAME, mcp_admin._BETWEEN_NAMES, mcp_schema._API_NAME, mcp_schema._UNSAFE, "a-b c,d e.f")),
    "emotes in a reply": (emotes.render, (emotes._EMOTE, emotes._GAP)),
    "status from a reply": (status.clean_status, ("custom status",)),
    "voice: a reply read aloud": (voice.spoken_text, (voice._MARKUP, voice._ACTION)),
    "attachments: spaces": (lambda t: attachments._SPACE.sub(" ", t), (attachments._SPACE,)),
    "posting: user mentions": (lambda t: posting._USER_MENTION.findall(t), (posting._USER_MENTION,)),
    "polls: options": (_swallow(lambda t: polls.parse_poll("which?", t, None)), (polls.SEPARATORS,)),
    "moderation: durations": (_swallow(lambda t: durations.parse_duration(t, maximum=timedelta(days=28))),
                              (durations._DURATION,)),
    "server settings: ids and channels": (
        _swallow(lambda t: (settings.parse_ids("allowed_roles", t), settings.parse_ids("muted_users", t))),
        ("<@&1> <@!1>",)),
    "admin commands in the log channel": (
        lambda t: (language.parse_command(t), _swallow(language.parse_user_id)(t)),
        tuple(p for _, p in language._COMMANDS)),
    "quiet hours": (_swallow(localtime.parse_quiet_hours), (localtime._HOURS,)),
    "reminders: a local time the model gave": (
        _swallow(lambda t: reminders.local_to_utc(t, reminders.ZoneInfo("Europe/London"))),
        (reminders._LOCAL, "2026-10-25T01:30+01:00")),
    "reminders: a time of day said": (reminders.clock_minutes, (reminders._CLOCK, "9:30 p.m.")),
    "summaries: memory lists": (passtext.parse_memories, ()),
    "extraction: the JSON in an answer": (_swallow(lambda t: facts.parse_extraction(t, 1.0)), ("json",)),
    "facts: the slot a fact fills, its past tense": (
        lambda t: (slots.slot_of(t), slots.past_tense(t)),
        (slots._RELATIONS, slots._PET, slots._EVENT, slots._VERB, *(cue for _, _, cue in slots._CUES))),
    "personaflow: sentences and words": (
        lambda t: pf_memory.extractive_summary([pf_memory.Memory(NOW, "interaction", t)]), ()),
    "personaflow: names": (_swallow(validators.check_character_name), ()),
}


def test_every_pattern_reading_outside_text_has_an_entry() -> None:
    """A new module-level pattern in a module listed here must get its adversarial entry too: the modules'
    compiled patterns are all named by some entry."""
    modules = (triage, intent, router, topics, timewords, lexical, style, emotions, blend, macros,
               framework, template, modes, splitting, delivery, websearch, emotes, voice, attachments,
               posting, polls, moderation, durations, localtime, text, lorekeys, appraisal, felt, prompting,
               reminders, slots, present, mcp_admin, mcp_schema, guessing, guard)
    covered = {id(p) for _, patterns in ENTRY_POINTS.values() for p in patterns if isinstance(p, re.Pattern)}
    covered |= {id(p) for p in blend._CONTEXT_PATTERNS.values()}
    missing = [f"{m.__name__}.{name}" for m in modules for name, value in vars(m).items()
               if isinstance(value, re.Pattern) and id(value) not in covered]
    assert missing == []


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_adversarial_input_is_read_in_bounded_time(name: str) -> None:
    fn, patterns = ENTRY_POINTS[name]
    worst, worst_input = 0.0, ""
    fn("warm up: Finn, the glade? 2026-11-25")  # first use (token tables, compiled keys) is no pattern's cost
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for text in inputs(patterns):
            signal.alarm(ALARM_SECONDS)
            started = time.thread_time()  # CPU time: a loaded machine's waits are not the pattern's cost
            try:
                fn(text)
            except _Stalled:
                pytest.fail(f"{name}: still running after {ALARM_SECONDS} s on {text[:40]!r}...")
            finally:
                signal.alarm(0)
            took = time.thread_time() - started
            if took > worst:
                worst, worst_input = took, text
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert worst < BOUND_SECONDS, f"{name}: {worst:.2f} s on {worst_input[:40]!r}..."
