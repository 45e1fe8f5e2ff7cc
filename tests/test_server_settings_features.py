"""A feature's own /settings keys (bot/operator/registration.py ``ServerSetting``) over the wire: tickets'
channel and staff role, declared by servertools, are shown, set, refused and reset by /settings like the
core's keys, and read back typed through the feature's handle; the /settings code names none of them."""

from __future__ import annotations

import inspect

import pytest

import cogs.server_settings
from bot.core.config import ReplySettings
from bot.features import FEATURES
from bot.features.servertools import settings
from bot.features.servertools.settings import BadValue, feature_key, parse_key
from bot.features.servertools.tickets import TicketDesk
from bot.operator.registration import (
    CHANNEL_ID as CHANNEL_KIND,
)
from bot.operator.registration import (
    CHOICE,
    NUMBER,
    ON_OFF,
    ROLE_ID,
    Feature,
    ServerSetting,
    ServerValue,
    server_settings,
)
from database.store import Store
from tests.fakes.discord_guild import CREATE_PRIVATE_THREADS, MANAGE_THREADS
from tests.harness import ADMIN_ID, CHANNEL_ID, GUILD_ID, Harness, invited
from tests.server_support import answer, sub

# A feature's keys of other kinds, declared here (listed in no Feature, so /settings does not show them)
VOTES = ServerSetting("test_votes", NUMBER, "votes here", section=ReplySettings, key="yes_no_vote_count",
                      low=1, high=9)
TONE = ServerSetting("test_tone", CHOICE, "tone here", default="warm", choices=("warm", "dry"))
LOUD = ServerSetting("test_loud", ON_OFF, "loud here")


async def setting(h: Harness, key: str, value: str) -> str:
    return await answer(await h.slash("settings", sub("set", key=key, value=value), user=ADMIN_ID))


async def shown(h: Harness) -> dict[str, str]:
    ix = await h.slash("settings", sub("show"), user=ADMIN_ID)
    return {f["name"]: f["value"] for f in (await ix.message())["embeds"][0]["fields"]}


async def test_a_features_keys_are_shown_set_refused_and_reset(harness: Harness) -> None:
    h = harness
    d = h.discord
    await d.set_role_permissions(GUILD_ID, d.bot_role_id(GUILD_ID), invited())
    staff = await d.add_role(GUILD_ID, "Staff", position=1, mentionable=True)
    desk = h.bot.services.part(TicketDesk)  # reads them through its handles (parts.server_setting)

    fields = await shown(h)
    assert fields["staff_role"] == "**none** (default)\n-# role that handles tickets (@role or id)"
    assert fields["ticket_channel"].startswith("**none** (default)\n-# channel where ticket threads are made")

    # refused as the core's keys are, with what the key takes
    assert await setting(h, "staff_role", "staff") == (
        "staff_role must be a @role or a role id, not 'staff'.\n"
        "-# staff_role: role that handles tickets (@role or id)")
    assert await setting(h, "staff_role", "900000000000999999") == (
        "900000000000999999 is not a role of this server.")
    assert (await setting(h, "ticket_channel", "general")).startswith(
        "ticket_channel must be a #channel or a channel id, not 'general'.")
    assert await desk.staff.at(GUILD_ID) is None

    assert await setting(h, "staff_role", f"<@&{staff}>") == (
        f"*Finn makes a note.* Here, staff_role is now **<@&{staff}>**.")
    assert await setting(h, "ticket_channel", str(CHANNEL_ID)) == (
        f"*Finn makes a note.* Here, ticket_channel is now **<#{CHANNEL_ID}>**.")
    role_id = await desk.staff.at(GUILD_ID)
    assert role_id == staff and isinstance(role_id, int)  # typed: the id, as /ticket setup stores it
    assert await desk.setup_of(GUILD_ID) is not None  # tickets are set up so
    fields = await shown(h)
    assert fields["staff_role"].startswith(f"**<@&{staff}>** (set here)")
    assert fields["ticket_channel"].startswith(f"**<#{CHANNEL_ID}>** (set here)")

    assert await setting(h, "staff_role", "default") == (
        "*Finn makes a note.* Here, staff_role is now **none** (the global default).")
    assert await desk.staff.at(GUILD_ID) is None and await desk.setup_of(GUILD_ID) is None

    # the refusal in the admin's language
    d.set_locale(ADMIN_ID, "de")
    assert (await setting(h, "staff_role", "staff")).startswith(
        "staff_role muss eine @Rolle oder eine Rollen-ID sein, nicht 'staff'.\n"
        "-# staff_role: Rolle, die Tickets bearbeitet (@Rolle oder ID)")


async def test_the_value_autocomplete_offers_a_role_keys_roles(harness: Harness) -> None:
    h = harness
    staff = await h.discord.add_role(GUILD_ID, "Staff", position=1)
    options = sub("set", key="staff_role")
    options[0]["options"].append({"name": "value", "type": 3, "value": "sta", "focused": True})
    ix = await h.discord.interaction_autocomplete(
        "settings", options, user_id=ADMIN_ID, channel_id=CHANNEL_ID, guild_id=GUILD_ID)
    assert [c["value"] for c in (await ix.response())["choices"]] == [str(staff)]


def test_the_settings_code_names_no_features_key() -> None:
    declared = [s for f in FEATURES for s in f.server_settings]
    assert {s.name for s in declared} >= {"ticket_channel", "staff_role"}
    assert set(server_settings()) == set(declared)  # each declared one is a listed feature's
    code = inspect.getsource(settings) + inspect.getsource(cogs.server_settings)
    for s in declared:
        for name in {s.name, s.column}:
            assert f'"{name}"' not in code and f"'{name}'" not in code, name
    assert '"tickets"' not in code  # its fields were named here before


async def test_a_declared_key_is_read_by_its_kind_and_typed_through_its_handle(store: Store) -> None:
    assert "test_votes" not in settings.keys()  # declared, but no feature lists it
    votes, tone, loud = feature_key(VOTES), feature_key(TONE), feature_key(LOUD)
    assert parse_key(votes, " 7 ") == 7 and parse_key(votes, "default") is None
    assert parse_key(tone, "Dry") == "dry" and parse_key(loud, "on") is True and loud.choices == ("on", "off")
    for spec, raw, said in (
        (votes, "12", "test_votes must be a whole number from 1 to 9, not '12'."),
        (votes, "--5", "test_votes must be a whole number from 1 to 9, not '--5'."),
        (tone, "loud", "test_tone must be one of warm, dry (or default), not 'loud'."),
        (loud, "maybe", "test_loud must be on or off, not 'maybe'."),
    ):
        with pytest.raises(BadValue) as refused:
            parse_key(spec, raw)
        assert refused.value.said("en") == said

    # its default is its own: the global setting it follows (the running section), else a fixed one
    count: ServerValue[int] = ServerValue(VOTES, store.config, ReplySettings(yes_no_vote_count=4))
    assert await count.at(GUILD_ID) == 4
    await count.set(GUILD_ID, 6)
    assert await count.at(GUILD_ID) == 6 and await count.own(GUILD_ID) == 6
    await count.set(GUILD_ID, None)
    assert await count.at(GUILD_ID) == 4
    assert await ServerValue(TONE, store.config).at(GUILD_ID) == "warm"
    with pytest.raises(ValueError):  # a value of another kind is refused where it is stored
        await ServerValue(LOUD, store.config).set(GUILD_ID, 1)  # type: ignore[arg-type]


async def test_ticket_channel_is_refused_where_tickets_could_not_make_their_threads(harness: Harness) -> None:
    h = harness
    d = h.discord
    await d.set_role_permissions(GUILD_ID, d.bot_role_id(GUILD_ID), invited())
    staff = await d.add_role(GUILD_ID, "Staff", position=1, mentionable=True)
    desk = h.bot.services.part(TicketDesk)
    # the channel's own overwrite takes from the bot's role what its server-wide permissions give
    await d.set_overwrite(CHANNEL_ID, d.bot_role_id(GUILD_ID), deny=CREATE_PRIVATE_THREADS | MANAGE_THREADS)
    refusal = f"I need Create Private Threads and Manage Threads in <#{CHANNEL_ID}> for tickets."
    assert await setting(h, "ticket_channel", f"<#{CHANNEL_ID}>") == refusal
    # /ticket setup refuses it in the same words: one check, the key's own
    setup = await h.slash("ticket", sub("setup", staff_role=("role", staff), channel=("channel", CHANNEL_ID)),
                          user=ADMIN_ID)
    assert await answer(setup) == refusal
    assert await desk.channel.at(GUILD_ID, fresh=True) is None

    d.set_locale(ADMIN_ID, "de")
    assert await setting(h, "ticket_channel", str(CHANNEL_ID)) == (
        f"Für Tickets brauche ich Create Private Threads und Manage Threads in <#{CHANNEL_ID}>.")
    assert await desk.channel.at(GUILD_ID, fresh=True) is None

    # the overwrite lifted, it is taken
    await d.set_overwrite(CHANNEL_ID, d.bot_role_id(GUILD_ID))
    d.set_locale(ADMIN_ID, "en-US")
    assert await setting(h, "ticket_channel", str(CHANNEL_ID)) == (
        f"*Finn makes a note.* Here, ticket_channel is now **<#{CHANNEL_ID}>**.")
    assert await desk.channel.at(GUILD_ID, fresh=True) == CHANNEL_ID


async def test_everyone_is_refused_as_a_role_key_with_its_own_line(harness: Harness) -> None:
    h = harness
    desk = h.bot.services.part(TicketDesk)
    for typed in (f"<@&{GUILD_ID}>", str(GUILD_ID)):  # @everyone's id is the server's
        assert await setting(h, "staff_role", typed) == (
            "staff_role takes a role some members have; @everyone is every member of the server. Choose "
            "another role.")
    h.discord.set_locale(ADMIN_ID, "de")
    assert await setting(h, "staff_role", f"<@&{GUILD_ID}>") == (
        "staff_role nimmt eine Rolle, die manche Mitglieder haben; @everyone ist jedes Mitglied des Servers. "
        "Wähle eine andere Rolle.")
    assert await desk.staff.at(GUILD_ID) is None


def test_a_features_key_named_as_a_core_or_another_features_key_fails_naming_both() -> None:
    core = ServerSetting("log_channel", CHANNEL_KIND, "a log", stored_as="test_shadow_log")
    with pytest.raises(ValueError, match=r"'log_channel' is declared twice: by /settings itself \(a core "
                                         r"key\) and by the feature test_shadower"):
        Feature("test_shadower", server_settings=(core,))
    theirs = ServerSetting("staff_role", ROLE_ID, "a role", stored_as="test_shadow_staff")
    with pytest.raises(ValueError, match="'staff_role' is declared twice: by the feature servertools and by "
                                         "the feature test_shadower"):
        Feature("test_shadower", server_settings=(theirs,))
    assert "test_shadower" not in {s.name for s in server_settings()}
    assert settings.keys()["log_channel"].declared is None  # the core's key, not shadowed
