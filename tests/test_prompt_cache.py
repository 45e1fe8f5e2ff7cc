"""Prompt caching over the wire: the real bot against the fake Discord and the fake Claude, whose cache
follows Anthropic's documented rules (tests/fakes/prompt_cache.py). The ratios are deterministic (token
counts, not time), measured by the same run as benchmarks/bench_cache.py."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_cache import line, run
from tests.fakes.claude_models import lineup as suite_lineup
from tests.fakes.claude_server import content_text


async def test_channel_and_dm_replies_read_their_prompts_from_cache(db_url: str, tmp_path: Path) -> None:
    figures = await run(db_url, tmp_path, dm_turns=50, channel_messages=40, votes=0)
    # Every turn asked once. A stream the connection broke is asked again inside the call's deadline (the
    # client retries transport errors, as it should on the real API): once seen on a loaded CI machine.
    for tally, turns in ((figures.channel, 40), (figures.dm, 50)):
        assert len(tally.asked) == turns and tally.requests - turns <= 1, tally.asked.most_common(2)
    # 3 people, 40 @mentions: the channel's transcript is a prefix they all share (56 % before)
    assert figures.channel.ratio >= 0.85, figures.channel.describe()
    # a DM keeps its layout (92 % in this conversation before): its floor is the first turns, shorter than
    # the 1,024-token minimum, and each exchange written once
    assert figures.dm.ratio >= 0.90, figures.dm.describe()
    if suite_lineup()["reply"] == "claude-sonnet-5-5":  # its message cached, the state after it: no lower
        assert figures.dm.ratio >= 0.952, figures.dm.describe()  # than the notes pinned in the history

    # what the character needs is still there: the channel's latest lines, its own answers as its turns,
    # who it is answering, and the message
    body = figures.last_channel_request
    said = [content_text(m["content"]) for m in body["messages"]]
    transcript = "\n".join(said)
    for i in range(32, 39):  # at least the last 15 lines (recent_channel_messages): 7 people's, 8 answers
        assert line(100 + i) in transcript
    assert sum(m["role"] == "assistant" for m in body["messages"]) >= 8
    final = said[-1]
    assert final.endswith(f"alice: @Finn {line(139)}")  # her name on the message says whom it answers


async def test_votes_read_their_prompt_from_cache_on_haiku_5_5(db_url: str, tmp_path: Path) -> None:
    # The vote prompt's stable part (instructions, the character, the recent lines, whose start stays put)
    # is cached from 512 tokens on Haiku 5.5; Haiku 4.5's 4,096 is out of reach (its votes read nothing).
    figures = await run(db_url, tmp_path, dm_turns=0, channel_messages=0, votes=10, lineup="5")
    assert figures.votes.requests == 30
    assert figures.votes.ratio >= 0.80, figures.votes.describe()
    old = await run(db_url, tmp_path / "4", dm_turns=0, channel_messages=0, votes=4, lineup="4")
    assert old.votes.requests == 12 and old.votes.read == 0


async def test_a_dm_at_human_pace_reads_its_prompt_from_cache(db_url: str, tmp_path: Path) -> None:
    # Issue 48: the same DM with people's pauses (seeded; a third outlive a 5-minute entry) on the virtual
    # clock of the fake cache and the fake Discord. The lifetime policy keeps its history an hour once the
    # conversation has paused (53-73 % read and 0.41-0.63x the uncached cost with 5-minute entries only).
    figures = await run(db_url, tmp_path, dm_turns=30, channel_messages=0, votes=0, pace="human", lineup="5")
    assert figures.dm.requests == 30
    assert figures.dm.ratio >= 0.85, figures.dm.describe()
    assert figures.dm.vs_uncached <= 0.35, figures.dm.describe()
    assert figures.dm.written_1h > 0
