"""The features' registrations (bot/features/ ``FEATURES``) are what the bot is made of: every registered
switch has its ``/bot`` command in the payload Discord is sent, every feature's cogs are loaded, its
unprompted spending is held to the global cap (its /forget_me rows: tests/test_reminders.py, over the wire).
Listed from the registrations, never by hand."""

from __future__ import annotations

from typing import Any

from bot.features import FEATURES
from cogs.activation import SWITCHES
from tests.harness import Harness


def options(command: dict[str, Any], path: list[str]) -> dict[str, Any]:
    for step in path:
        [command] = [o for o in command.get("options", []) if o["name"] == step]
    return command


async def test_every_registered_switch_is_a_bot_command_with_on_off_default(harness: Harness) -> None:
    h = harness
    await h.lead_work_done()  # the commands' sync is lead work
    [group] = [c for c in h.discord.registered_commands() if c["name"] == "bot"]
    registered = [s for f in FEATURES for s in f.switches]
    assert registered, "no feature registers a switch"
    assert list(SWITCHES.values()) == registered  # none made by hand in the cog
    for switch in registered:
        assert SWITCHES[switch.name] is switch  # one name, one switch
        if not switch.subcommand:
            continue  # written by hand in the cog
        command = options(group, switch.subcommand.split())
        assert command["description"] == switch.description
        [state, *scope] = command["options"]
        assert state["name"] == "state" and state["required"] is True
        assert [c["value"] for c in state["choices"]] == ["on", "off", "default"]
        assert [o["name"] for o in scope] == ([] if switch.server_wide else ["scope"])
        assert state["description"] == (switch.state_text or f"on, off, or default ({switch.default_name})")


async def test_every_feature_is_loaded_and_its_spending_counted(harness: Harness) -> None:
    h = harness
    bot = h.bot
    assert bot is not None
    names = [f.name for f in FEATURES]
    assert len(names) == len(set(names))
    loaded = {type(cog).__module__ for cog in bot.cogs.values()}
    for feature in FEATURES:
        for cog in feature.cogs:
            assert cog in loaded, f"{feature.name}: {cog} not loaded"
        assert feature.unprompted <= bot.services.limits.unprompted
