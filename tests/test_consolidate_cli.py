"""`python main.py consolidate --now` as an operator sees it (issue 17), run as a subprocess: one progress bar
(none from loading the embedding model), no INFO lines through it, people named by their known name, the
summary printed once, a bar that skipped messages short of 100 %, and options after the subcommand."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

from database.store import Store
from tests.dbtools import archived_count, logged_count
from tests.fakes import PROCESS_WAIT
from tests.fakes.claude_server import FakeClaude
from tests.harness import spawn_main
from tests.memory_support import FINN, consolidation_responder, is_extraction, seen

ALICE, BOB = 5, 6


async def test_consolidate_now_shows_one_honest_bar(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    store = await Store(url).open()
    try:
        # Discord usernames in the log; the names people go by (their display names) in the people table.
        for message, known in (
                (seen(1, ALICE, "FACT[hobby]: Alice flies red kites", name="al1ce"), "Alice Moreau"),
                (seen(2, ALICE, "FACT[work]: Alice repairs boats", name="al1ce"), "Alice Moreau"),
                (seen(3, BOB, "FACT[hobby]: Bob plays the cello", name="b0b"), "Bobby Tables")):
            await store.log.log_message(message, known)
    finally:
        await store.close()

    answer = consolidation_responder()

    def responder(body: dict[str, Any]) -> str | None:
        if is_extraction(body) and "Bobby Tables" in str(body):
            return "not JSON at all"  # twice: Bob's batch is skipped, his message stays in the log
        return answer(body)

    claude = FakeClaude()
    claude.responder = responder
    await claude.start()
    config = tmp_path / "config.env"
    # a model without structured outputs: with them prose cannot come back (test_structured_outputs.py)
    config.write_text(f'DATABASE_URL="{url}"\nDEFAULT_MODEL="claude-test-default"\nLOG_LEVEL="INFO"\n'
                      'MODEL_CAPABILITIES="claude-test-default[structured_outputs]=false"\n')
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in {"discord_token", "anthropic_api_key", "database_url", "log_level"}}
    env.update({"ANTHROPIC_API_KEY": "fake", "ANTHROPIC_BASE_URL": claude.base_url})
    try:
        # Options after the subcommand: the character and the config file come from there.
        proc = await spawn_main("consolidate", "--now", "--character", str(FINN), "--config", str(config),
                                cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE)
        out, raw = await asyncio.wait_for(proc.communicate(), timeout=PROCESS_WAIT)
    finally:
        await claude.close()
    err = raw.decode()
    assert proc.returncode == 1, err  # a batch was skipped
    # Known names reach Claude and the operator; the name in an old message does not.
    extractions = [r for r in claude.requests if is_extraction(r.body)]
    assert extractions and all("al1ce" not in FakeClaude.all_text(r) for r in extractions)
    assert any("Alice Moreau" in FakeClaude.all_text(r) for r in extractions)
    assert f"malformed answer for Bobby Tables ({BOB}) twice" in err
    # One bar: every bar frame is "consolidating", none from loading the model ("Loading weights", ...).
    frames = [f for f in re.split(r"[\r\n]", err) if re.search(r"\d+%\|", f)]
    assert frames and all(f.startswith("consolidating") for f in frames), frames
    last = frames[-1]
    assert "2/3" in last and "100%" not in last and "1 skipped" in last
    # No INFO line through the bar (the run's summary is not logged as well as printed), the summary once.
    assert " INFO " not in err[err.index("consolidating"):], err
    assert err.count("consolidation done:") == 1 and "3 messages:" in err
    assert "1 batch skipped, their messages stay in the log" in err
    assert out == b""
    store = await Store(url).open()
    try:
        assert await logged_count(store) == 1 and await archived_count(store) == 2
    finally:
        await store.close()


def test_options_go_before_or_after_the_subcommand() -> None:
    from main import parse_args

    for argv in (["--character", "x", "--config", "c.env", "consolidate", "--now"],
                 ["consolidate", "--now", "--character", "x", "--config", "c.env"],
                 ["--character", "y", "consolidate", "--now", "--character", "x", "--config", "c.env"]):
        args = parse_args(argv)
        assert (args.command, args.character, args.config) == ("consolidate", "x", "c.env"), argv
    args = parse_args(["dashboard", "--character", "x"])
    assert (args.character, args.config) == ("x", None)
    assert parse_args(["export-card", "atlas", "--config", "c.env"]).config == "c.env"
