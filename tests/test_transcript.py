"""The channel transcript window (bot/reply/transcript.py) and the cache layout of reply prompts
(bot/reply/prompting.py): what the character needs is still in the prompt, in a place the cache can reuse."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.core.persona.model import Persona
from bot.core.stages import Incoming
from bot.reply.prompting import ReplyExtras, build_reply_prompt
from bot.reply.transcript import ROLL_STEP, TranscriptWindows, fetch_limit, transcript_messages
from database.records import History, PromptData, RelationshipRecord, SeenMessage, Turn
from tests.fakes.prompt_cache import MAX_BREAKPOINTS, PromptCache, estimate_tokens
from tests.place_support import place

NOW = datetime(2026, 11, 23, tzinfo=UTC)
CHANNEL, BOT, ALICE, BOB = 10, 1, 2, 3
PERSONA = Persona(name="Finn", system_prompt="You are Finn. You ask {{user}} questions. " * 100)


def seen(i: int, author: int = BOB, text: str | None = None, name: str | None = None) -> SeenMessage:
    names = {BOT: "Finn", ALICE: "alice", BOB: "bob"}
    return SeenMessage(1000 + i, CHANNEL, 5, author, name or names[author], author == BOT, False,
                       f"line {i}" if text is None else text, NOW)


def incoming(i: int, author: int = ALICE, *, dm: bool = False) -> Incoming:
    return Incoming(1000 + i, author, "alice", f"question {i}", NOW,
                    place=place(CHANNEL, True) if dm else place(CHANNEL, False, 5, guild_name="Tide Pool",
                                                                  channel_name="general"))


def data(recent: list[SeenMessage], turns: tuple[Turn, ...] = ()) -> PromptData:
    return PromptData(identity={"trait": ["warm"]}, core_memories=["Alice once rescued a hermit crab."],
                      relationship=RelationshipRecord(rapport=8), mood="sunny", premium=False,
                      history=History(1, "", list(turns)), recent=recent)


def test_the_window_only_grows_until_it_rolls_over_in_one_step() -> None:
    windows, keep = TranscriptWindows(), 15
    log = [seen(i) for i in range(40)]
    first = windows.window(CHANNEL, log[-fetch_limit(keep):], keep)
    assert [m.message_id for m in first] == [m.message_id for m in log[-keep:]]
    # each new line is appended; the start stays until the window holds keep + ROLL_STEP lines
    for n in range(41, 40 + ROLL_STEP + 1):
        log.append(seen(n - 1))
        shown = windows.window(CHANNEL, log[-fetch_limit(keep):], keep)
        assert shown[0] == first[0] and shown[-1] == log[-1] and len(shown) == keep + n - 40
    assert len(shown) == keep + ROLL_STEP
    log.append(seen(40 + ROLL_STEP))
    rolled = windows.window(CHANNEL, log[-fetch_limit(keep):], keep)
    assert rolled == log[-keep:]  # one step: back to the last keep lines, which then grow again
    log.append(seen(41 + ROLL_STEP))
    assert windows.window(CHANNEL, log[-fetch_limit(keep):], keep) == log[-keep - 1:]
    # another channel, or a forgotten start (a restart), begins a window of its own
    assert TranscriptWindows().window(CHANNEL, log[-fetch_limit(keep):], keep) == log[-keep:]
    assert windows.window(CHANNEL, [], keep) == [] and windows.window(CHANNEL, log, 0) == []


def test_blank_lines_are_left_out_and_own_lines_are_the_characters_turns() -> None:
    lines = [seen(1, BOB), seen(2, BOT, "Glub, hello."), seen(3, BOT, "And welcome."), seen(4, ALICE, " "),
             seen(5, ALICE)]
    shown = TranscriptWindows().window(CHANNEL, lines, 15)
    messages = transcript_messages("[header]", shown, {BOT}, "Finn")
    assert [(m["role"], [b["text"] for b in m["content"]]) for m in messages] == [
        ("user", ["[header]", "bob: line 1"]), ("assistant", ["Glub, hello.", "And welcome."]),
        ("user", ["alice: line 5"])]
    # several characters sharing webhooks: only the lines under this character's name are its own
    ensemble = [seen(1, BOT, "I am Finn.", name="Finn"), seen(2, BOT, "I am Atlas.", name="Atlas")]
    roles = [m["role"] for m in transcript_messages("[h]", ensemble, {BOT, 77}, "Finn")]
    assert roles == ["user", "assistant", "user"]


def breakpoints(prompt: Any) -> list[str]:
    blocks = [*prompt.system, *(b for m in prompt.messages if isinstance(m["content"], list)
                                for b in m["content"])]
    return [b["text"] for b in blocks if "cache_control" in b]


def test_a_channel_prompt_shares_its_prefix_and_keeps_the_person_in_the_tail() -> None:
    recent = [seen(1, BOB, "the crabs are restless"), seen(2, BOT, "They always are."), seen(3, ALICE, "hm")]
    extras = ReplyExtras(feelings="## How you feel right now\ncontent", style="## How alice writes\n.",
                         emotes="## Emotes")
    prompt = build_reply_prompt(PERSONA, data(recent), incoming(9), own_ids={BOT}, transcript=recent,
                                extras=extras)
    [system] = prompt.system
    assert "alice" not in system["text"] and "the person you are answering" in system["text"]
    assert "## Who you are" in system["text"] and "sunny" in system["text"] and "## Emotes" in system["text"]
    assert len(breakpoints(prompt)) == 2 <= MAX_BREAKPOINTS
    assert breakpoints(prompt)[-1] == "alice: hm"  # the transcript's last line closes the cached prefix
    tail = prompt.messages[-1]["content"][-1]["text"]
    assert "cache_control" not in prompt.messages[-1]["content"][-1]
    # (the relationship is said in the feelings' one line of the state: bot/alive/regard.py)
    for needed in ('<person name="alice">', "Alice once rescued a hermit crab.",
                   "<state>\ncontent\n.\n</state>", "alice: question 9"):
        assert needed in tail
    text = "\n".join(b["text"] for m in prompt.messages for b in m["content"])
    assert "#general on the server Tide Pool" in text and "bob: the crabs are restless" in text
    assert {"role": "assistant", "content": [{"type": "text", "text": "They always are."}]} in prompt.messages

    # bob's next message: the same system and transcript, one exchange longer; read from cache up to it
    cache = PromptCache(min_tokens=0)
    first = cache.usage({"model": "m", "system": prompt.system, "messages": prompt.messages})
    later = [*recent, seen(9, ALICE, "question 9"), seen(10, BOT, "A fine question.")]
    bobs = build_reply_prompt(PERSONA, data(later), incoming(11, BOB), own_ids={BOT}, transcript=later,
                              extras=ReplyExtras(feelings="## How you feel right now\nglad",
                                                 emotes="## Emotes"))
    usage = cache.usage({"model": "m", "system": bobs.system, "messages": bobs.messages})
    assert usage.cache_read_input_tokens == first.total - estimate_tokens(tail)
    assert usage.cache_creation_input_tokens == estimate_tokens("alice: question 9") + estimate_tokens(
        "A fine question.")


def test_a_dm_prompt_keeps_its_layout() -> None:
    turns = (Turn("user", "hello"), Turn("assistant", "Glub, hi."))
    prompt = build_reply_prompt(PERSONA, data([], turns), incoming(3, dm=True),
                                extras=ReplyExtras(style="## How alice writes\nx"))
    [character] = prompt.system  # the person is quoted data, never a system block
    assert "You ask alice questions" in character["text"]  # {{user}} in a DM: the person
    assert "hermit crab" not in character["text"]
    person = prompt.messages[0]["content"][0]
    assert person["text"].startswith('[Where: a private direct message with alice]\n<person name="alice">')
    assert "cache_control" in person
    assert "Alice once rescued a hermit crab." in person["text"] and "<state>" not in person["text"]
    assert [m["role"] for m in prompt.messages] == ["user", "assistant", "user"]
    # the conversation so far is the cached prefix, the message too, as the history will show it next time
    assert breakpoints(prompt)[-1] == "question 3"
    said, notes = prompt.messages[-1]["content"]
    assert said == {"type": "text", "text": "question 3", "cache_control": {"type": "ephemeral"}}
    assert notes == {"type": "text", "text": "<state>\nx\n</state>"}  # after the breakpoint
    # a channel that has not said anything yet: the person's conversation, as in a DM
    quiet = build_reply_prompt(PERSONA, data([], turns), incoming(3), own_ids={BOT}, transcript=[])
    assert "Alice once rescued a hermit crab." in quiet.messages[0]["content"][0]["text"]


def test_a_burst_of_lines_between_two_replies_still_reads_the_previous_prefix() -> None:
    cache = PromptCache(min_tokens=0)

    def ask(lines: list[SeenMessage], i: int) -> Any:
        prompt = build_reply_prompt(PERSONA, data(lines), incoming(i), own_ids={BOT}, transcript=lines)
        assert len(breakpoints(prompt)) <= MAX_BREAKPOINTS
        return cache.usage({"model": "m", "system": prompt.system, "messages": prompt.messages})

    lines = [seen(i, (ALICE, BOB)[i % 2]) for i in range(30)]
    first = ask(lines, 100)
    tail = first.input_tokens
    # 55 lines from others before the next @mention: 20 blocks of lookback alone would not reach back
    burst = [*lines, *(seen(i, BOB, f"chatter {i}") for i in range(30, 85))]
    second = ask(burst, 101)
    assert second.cache_read_input_tokens == first.total - tail
    chatter = sum(estimate_tokens(f"bob: chatter {i}") for i in range(30, 85))
    assert second.cache_creation_input_tokens == chatter


def test_a_dm_reroll_and_a_message_after_an_unanswered_one_keep_the_next_prefix() -> None:
    """The message a DM reply caches is what the history shows at the next reply: after an unanswered
    message it is merged into that turn (as the history merges them); a reroll's is the history's last
    turn already, never said twice."""
    cache = PromptCache(min_tokens=0)
    said = (Turn("user", "hello"), Turn("assistant", "Glub, hi."), Turn("user", "question 3"))
    first = build_reply_prompt(PERSONA, data([], said), incoming(4, dm=True))
    assert [m["role"] for m in first.messages] == ["user", "assistant", "user"]
    assert breakpoints(first)[-1] == "question 3\n\nquestion 4"
    cache.usage({"model": "m", "system": first.system, "messages": first.messages})
    answered = (*said, Turn("user", "question 4"), Turn("assistant", "Both, then."))
    again = build_reply_prompt(PERSONA, data([], answered), incoming(4, dm=True), replace_last_reply=True)
    assert breakpoints(again) == breakpoints(first)  # the same message, the same cached prefix
    assert sum(b["text"].count("question 4") for m in again.messages for b in m["content"]
               if isinstance(m["content"], list)) == 1  # said once
    usage = cache.usage({"model": "m", "system": again.system, "messages": again.messages})
    assert usage.cache_creation_input_tokens == 0 and usage.cache_read_input_tokens > 0
