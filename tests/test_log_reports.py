"""The log channel's periodic report, over the wire: the daily consolidation's figures as a Components V2
panel when verbose mode is on (counts only: what was said, in a DM above all, never reaches the channel).
The admin commands' reports (status, user data, list users) are in tests/test_admin_log_channel.py."""

from __future__ import annotations

from typing import Any

from tests.harness import LOG_CHANNEL_ID, USER_ID, panel_fields, panel_text
from tests.memory_support import consolidation_responder


async def test_the_daily_consolidation_reports_its_figures_as_a_panel(make_harness: Any) -> None:
    h = await make_harness(verbose_logging="true")
    h.claude.responder = consolidation_responder()
    await h.say("FACT[work]: Alice mends fishing nets", mention=True)
    await h.replies(h.channel_id, 1)
    sent = await h.dm("FACT[home]: my secret diary says the attic leaks", user=USER_ID)
    await h.replies(int(sent["channel_id"]), 1)
    await h.bot.in_flight.drain()
    await h.bot.mirror.drain()
    before = len(h.discord.posted(LOG_CHANNEL_ID))

    report = await h.bot.services.memory_jobs.daily()
    assert report is not None and report.new_facts == 2
    await h.bot.mirror.drain()
    [posted] = [m for m in h.discord.posted(LOG_CHANNEL_ID)[before:] if not m["content"]]
    text, fields = panel_text(posted), panel_fields(posted)  # the fake refuses a panel past V2's rules
    assert text.startswith("### Daily memory consolidation")
    assert fields["Facts"].startswith("2 new") and fields["Batches"].startswith("2/2 of 1 users committed")
    assert "mends fishing nets" not in text and "diary" not in text and "attic" not in text
    assert not any("attic" in (m["content"] or panel_text(m)) for m in h.discord.posted(LOG_CHANNEL_ID))
