"""One way to configure a place or a person (database/place_config.py): every registered setting is set and
read at each of its scopes through the one accessor (the list comes from the registrations), a new setting
needs no migration, a person's own value comes first where a setting is registered per person, migrations
0043 and 0044 move the old tables' and column's rows into it (and back), a server's proactive is one setting
whichever command sets it, and a person's time zone is a person setting over the wire: set by /timezone,
read by the reply, returned by /export_me, deleted by /forget_me."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import inspect, select

from bot.core.config import BY_KEY
from bot.features.servertools.settings import KEYS
from bot.runtime import composition  # noqa: F401  every registration the running bot makes
from cogs.activation import SWITCHES
from database.engine import make_engine
from database.migrating import head_revisions
from database.models import ScopedSetting
from database.person_settings import TIMEZONE
from database.place_config import (
    CHANNEL,
    PERSON,
    PLACE_SCOPES,
    SCOPES,
    SERVER,
    PlaceConfig,
    register,
    registered,
    setting,
)
from database.records import ServerConfig
from database.servers import FIELDS
from database.store import Store
from tests.dbtools import migrate_to, reset_schema
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Harness,
    ephemeral,
    reply_requests,
)
from tests.server_support import answer, sub
from tests.test_activation import bot_command
from tests.test_export_me import export
from tests.test_memory_commands import forget

SAMPLES: dict[str, tuple[object, object]] = {"bool": (True, False), "int": (12345678901234567, 7),
                                             "str": ("German", "")}


def test_the_registrations_name_every_place_setting_and_its_default() -> None:
    keys = {s.key: s for s in registered()}
    assert {scope for s in registered() for scope in s.scopes} == set(SCOPES)
    assert SCOPES == (PERSON, CHANNEL, SERVER)  # in the order a value is looked for
    assert set(PLACE_SCOPES) == {SERVER, CHANNEL}
    assert keys[TIMEZONE].scopes == {PERSON} and keys[TIMEZONE].default == ""  # a person's own
    assert register("unscoped_here", "bool").scopes == set(PLACE_SCOPES)  # none named: a place's
    for name, switch in SWITCHES.items():  # the /bot switches, the features' among them
        follows = switch.key  # the global setting's key (keys are flat), or none
        assert keys[name].kind == "bool" and keys[name].follows == follows
        assert keys[name].scopes == {SERVER, CHANNEL}
        assert follows or keys[name].default is switch.default
    for spec in KEYS.values():  # /settings
        assert SERVER in keys[spec.column].scopes
    assert set(FIELDS) == {f for f in ServerConfig.__dataclass_fields__ if f != "guild_id"}
    assert keys["active"].default is True
    for each in registered():  # a followed key names a real global setting (a feature's too) of its type
        default = BY_KEY[each.follows].default if each.follows else each.default
        assert default is None or isinstance(default, {"bool": bool, "int": int, "str": str}[each.kind]), each


async def test_every_registered_setting_is_set_and_read_at_each_of_its_scopes(store: Store) -> None:
    config = store.config
    other = PlaceConfig(store.db)  # another process's copy
    for each in registered():
        first, second = SAMPLES[each.kind]
        for n, scope in enumerate(sorted(each.scopes)):
            place = 1000 + n
            assert await config.own(each.key, scope, place) is None
            await config.set(each.key, scope, place, first)
            assert await config.own(each.key, scope, place) == first  # this process: at once
            other.forget()  # what the cluster's notice does
            assert await other.own(each.key, scope, place) == first
            await config.set(each.key, scope, place, second)
            assert await config.own(each.key, scope, place) == second
            await config.set(each.key, scope, place, None)
            assert await config.own(each.key, scope, place) is None
        for scope in set(SCOPES) - each.scopes:
            with pytest.raises(ValueError):
                await config.set(each.key, scope, 1, first)
    with pytest.raises(KeyError):
        await config.set("no_such_setting", SERVER, 1, True)
    with pytest.raises(ValueError):
        await config.set("vote_count", SERVER, 1, True)  # a bool is no int
    await other.drain()


async def test_a_setting_edited_or_deleted_by_hand_in_sql_reaches_the_next_read_of_the_changes(
        store: Store) -> None:
    """An operator fixing a row in an SQL console writes no ``updated_at`` (a trigger gives it one) and a
    row they delete is among no rows changed since (the read counts the table and reads it whole): either
    applies at the copy's next read of the changes (``fresh`` here; within CONFIG_CACHE_SECONDS live), as
    Kindred's own changes do."""
    from sqlalchemy import text, update

    async def by_hand(sql: str) -> None:
        async with store.engine.begin() as conn:
            await conn.execute(text(sql), {"id": GUILD_ID})

    config = store.config
    await config.set("language", SERVER, GUILD_ID, "German")
    await config.set("vote_count", SERVER, GUILD_ID, 3)
    async with store.engine.begin() as conn:  # set long ago: out of the window a read of the changes looks at
        await conn.execute(update(ScopedSetting).values(updated_at=datetime(2020, 1, 1, tzinfo=UTC)))
    config.forget()
    await config.set("vote_count", SERVER, GUILD_ID + 1, 2)  # the newest now
    assert await config.own("language", SERVER, GUILD_ID) == "German"
    await by_hand("UPDATE scoped_settings SET value = '\"French\"' WHERE key = 'language' AND scope_id = :id")
    assert await config.own("language", SERVER, GUILD_ID, fresh=True) == "French"
    await by_hand("DELETE FROM scoped_settings WHERE key = 'language' AND scope_id = :id")
    assert await config.own("language", SERVER, GUILD_ID, fresh=True) is None
    assert await config.own("vote_count", SERVER, GUILD_ID) == 3


async def test_a_new_setting_is_a_registration_not_a_migration(store: Store) -> None:
    columns = await column_names(store)
    heads = head_revisions()
    quiet = register("quiet_here", "bool", follows="swipes", help="answer only when addressed").key
    assert setting(quiet).scopes == {SERVER, CHANNEL}
    await store.config.set(quiet, SERVER, 10, True)
    await store.config.set(quiet, CHANNEL, 1, False)
    assert await store.config.value(quiet, 1, 10, None) is False  # the channel's own wins
    assert await store.config.value(quiet, 2, 10, None) is True  # another channel: its server's
    assert await store.config.value(quiet, 3, 10, None, parent_id=1) is False  # a thread: its channel's
    assert await store.config.value(quiet, 2, 11, None) is None  # elsewhere: the default
    again = await Store(store.url).open()  # a restart finds it
    try:
        assert await again.config.own(quiet, SERVER, 10) is True
    finally:
        await again.close()
    assert head_revisions() == heads
    assert await column_names(store) == columns


async def test_a_persons_own_value_comes_first_where_the_setting_is_registered_per_person(
        store: Store) -> None:
    """Resolution: the person's own, the channel's, the thread's parent's, the server's, the default. A
    setting a place must be able to impose is registered without the person scope: no person's value is
    looked at (nor may one be set)."""
    config, other = store.config, PlaceConfig(store.db)
    length = register("answer_length", "str", scopes=(PERSON, CHANNEL, SERVER), default="medium").key
    imposed = register("imposed_here", "bool", default=False).key
    alice, bob, server, channel, thread = 7, 8, 10, 1, 3
    assert await config.value(length, channel, server, "medium", person_id=alice) == "medium"
    await config.set(length, SERVER, server, "short")
    assert await config.value(length, channel, server, "medium", person_id=alice) == "short"
    await config.set(length, CHANNEL, channel, "long")
    assert await config.value(length, thread, server, "medium", parent_id=channel, person_id=alice) == "long"
    await config.set(length, CHANNEL, thread, "medium")
    assert await config.value(length, thread, server, "x", parent_id=channel, person_id=alice) == "medium"
    await config.set(length, PERSON, alice, "terse")
    for place in (channel, thread, 99):  # hers wherever she is
        assert await config.value(length, place, server, "x", parent_id=channel, person_id=alice) == "terse"
    assert await config.value(length, channel, server, "x", person_id=bob) == "long"  # not Bob's
    assert await config.value(length, channel, server, "x") == "long"  # nobody in particular
    assert await config.person(length, alice) == "terse" and await config.person(length, bob) == "medium"
    assert await config.own(length, PERSON, alice) == "terse"
    assert await config.own(length, PERSON, bob) is None
    other.forget()  # another process, told by the cluster
    assert await other.value(length, channel, server, "x", person_id=alice) == "terse"
    await config.set(length, PERSON, alice, None)  # back to what the place says
    assert await config.value(length, channel, server, "x", person_id=alice) == "long"
    await config.set(imposed, CHANNEL, channel, True)
    with pytest.raises(ValueError):
        await config.set(imposed, PERSON, alice, False)
    assert await config.value(imposed, channel, server, False, person_id=alice) is True
    await other.drain()


async def column_names(store: Store) -> list[str]:
    return await store.db.read(lambda conn: [c["name"] for c in inspect(conn).get_columns("scoped_settings")])


async def test_a_servers_proactive_is_one_setting_over_the_wire(harness: Harness) -> None:
    """/settings set proactive and /bot proactive (server) set the same value: each shows the other's."""
    h = harness
    setting_cmd: Any = sub("set", key="proactive", value="on")
    await answer(await h.slash("settings", setting_cmd, user=ADMIN_ID))
    assert await h.store.switches.get("proactive", CHANNEL_ID, GUILD_ID) == (None, True)
    assert "**off** for" in await bot_command_state(h, "proactive", "off", "server")
    assert (await h.store.servers.get(GUILD_ID)).proactive is False
    ix = await h.slash("settings", sub("show"), user=ADMIN_ID)
    fields = {f["name"]: f["value"] for f in (await ix.message())["embeds"][0]["fields"]}
    assert fields["proactive"].startswith("**off** (set here)")
    assert "inactive" in await bot_command(h, "deactivate", "server")
    assert await h.store.config.own("active", SERVER, GUILD_ID) is False


async def bot_command_state(h: Harness, switch: str, state: str, scope: str) -> str:
    options = [{"name": switch, "type": 1, "options": [{"name": "state", "type": 3, "value": state},
                                                       {"name": "scope", "type": 3, "value": scope}]}]
    return await answer(await h.slash("bot", options, user=ADMIN_ID))


async def test_migration_0043_moves_the_old_rows_into_the_one_table_and_back(db_url: str) -> None:
    await reset_schema(db_url)
    engine = make_engine(db_url)
    now = "'2026-11-01 10:00:00'"
    async with engine.begin() as conn:
        await conn.run_sync(migrate_to("0042_fact_gloss"))
        for sql in (
            f"INSERT INTO place_settings (place_type, place_id, active, updated_at) VALUES "
            f"('channel', 5, false, {now}), ('guild', 10, true, {now})",
            f"INSERT INTO place_switches (place_type, place_id, switch, enabled, updated_at) VALUES "
            f"('channel', 5, 'reactions', false, {now}), ('guild', 10, 'proactive', true, {now}), "
            f"('channel', 6, 'swipes', true, {now})",
            f"INSERT INTO server_settings (guild_id, reply_mode, vote_count, proactive, language, "
            f"log_channel_id, blocked_users, allowed_roles, updated_at) VALUES "
            f"(10, 'addressed', 3, false, 'German', 900000000000999999, '42,43', '', {now}), "
            f"(11, NULL, NULL, true, NULL, NULL, NULL, NULL, {now})",
        ):
            await conn.exec_driver_sql(sql)
    store = await Store(db_url).open()  # upgrades to the newest migration
    try:
        assert await store.places.activation(5, 10) == (False, True)
        assert not await store.places.is_active(5, 10) and await store.places.is_active(7, 10)
        assert await store.switches.get("reactions", 5, 10) == (False, None)
        assert await store.switches.is_on("swipes", 6, None, False)
        assert await store.switches.get("proactive", 5, 10) == (None, True)  # the switch won over the column
        assert await store.switches.get("proactive", 5, 11) == (None, True)  # the column alone
        config = await store.servers.get(10)
        assert (config.reply_mode, config.vote_count, config.proactive, config.language,
                config.log_channel_id, config.blocked_users, config.allowed_roles, config.memory_consent) == (
            "addressed", 3, True, "German", 900000000000999999, "42,43", "", None)
        assert await store.servers.get(12) == ServerConfig(12)
    finally:
        await store.close()
    async with engine.begin() as conn:  # and down again: the old tables hold them
        await conn.run_sync(migrate_to("0042_fact_gloss", down=True))
        places = (await conn.exec_driver_sql(
            "SELECT place_type, place_id, active FROM place_settings ORDER BY place_id")).all()
        switches = (await conn.exec_driver_sql(
            "SELECT place_type, place_id, switch, enabled FROM place_switches "
            "ORDER BY place_id, switch")).all()
        servers = (await conn.exec_driver_sql(
            "SELECT guild_id, reply_mode, vote_count, language, log_channel_id, blocked_users, allowed_roles "
            "FROM server_settings ORDER BY guild_id")).all()
    await engine.dispose()
    assert [(t, i, bool(a)) for t, i, a in places] == [("channel", 5, False), ("guild", 10, True)]
    assert [(t, i, s, bool(e)) for t, i, s, e in switches] == [
        ("channel", 5, "reactions", False), ("channel", 6, "swipes", True), ("guild", 10, "proactive", True),
        ("guild", 11, "proactive", True)]
    assert [tuple(r) for r in servers] == [(10, "addressed", 3, "German", 900000000000999999, "42,43", "")]


async def test_a_persons_time_zone_is_their_setting_over_the_wire(harness: Harness) -> None:
    """/timezone sets Alice's own value; her reply knows her time; /export_me returns it and not Bob's;
    /forget_me deletes hers (the cached copy at once) and keeps Bob's and the server's."""
    h = harness
    done = await ephemeral(await h.slash("timezone", [{"name": "zone", "type": 3, "value": "Asia/Tokyo"}],
                                         dm=True))
    assert "Asia/Tokyo" in done["content"]
    await h.slash("timezone", [{"name": "zone", "type": 3, "value": "Europe/Oslo"}], user=USER2_ID, dm=True)
    await h.store.config.set("vote_count", SERVER, GUILD_ID, 3)
    assert await h.store.config.own(TIMEZONE, PERSON, USER_ID) == "Asia/Tokyo"
    assert await h.store.reminders.zone_of(USER_ID) == "Asia/Tokyo"
    h.claude.script("Evening!")
    sent = await h.dm("still up?")
    await h.replies(int(sent["channel_id"]))
    await h.settled()  # the reply's whole handling done (its swipes kept after the post): forgotten below
    assert "(Asia/Tokyo)" in h.claude.all_text(reply_requests(h)[-1])
    assert (await h.store.privacy.rows_about_user(USER_ID))["scoped_settings"] == 1

    [attachment] = (await export(h, USER_ID))["attachments"]
    settings = json.loads(attachment["_data"])["tables"]["settings"]
    assert [(s["key"], s["value"]) for s in settings] == [(TIMEZONE, "Asia/Tokyo")]  # hers alone

    await forget(h)
    assert await h.store.config.person(TIMEZONE, USER_ID) == ""  # at once, from the cached copy too
    assert await h.store.privacy.rows_about_user(USER_ID) == {}
    rows = await h.store.db.rows(select(ScopedSetting.scope, ScopedSetting.scope_id, ScopedSetting.key))
    assert sorted((r.scope, r.scope_id, r.key) for r in rows) == [
        (PERSON, USER2_ID, TIMEZONE), (SERVER, GUILD_ID, "vote_count")]
    assert await h.store.reminders.zone_of(USER2_ID) == "Europe/Oslo"


async def test_migration_0044_moves_a_persons_time_zone_into_the_one_table_and_back(db_url: str) -> None:
    await reset_schema(db_url)
    engine = make_engine(db_url)
    now = "'2026-11-01 10:00:00'"
    async with engine.begin() as conn:
        await conn.run_sync(migrate_to("0043_scoped_settings"))
        for sql in (
            f"INSERT INTO users (id, name, is_bot, premium, first_seen, last_seen, timezone) VALUES "
            f"(1, 'alice', false, false, {now}, {now}, 'Europe/London'), "
            f"(2, 'bob', false, false, {now}, {now}, NULL), (3, 'carol', false, false, {now}, {now}, '')",
            f"INSERT INTO user_facts (user_id, fact, category, first_mentioned, last_mentioned, "
            f"reference_count, pinned, private) VALUES (1, 'Alice sails', 'hobbies', {now}, {now}, 1, false, "
            f"false)",
            f"INSERT INTO scoped_settings (scope, scope_id, key, value, updated_at) VALUES "
            f"('server', 10, 'vote_count', '3', {now})",
        ):
            await conn.exec_driver_sql(sql)
    store = await Store(db_url).open()  # upgrades to the newest migration
    try:
        assert await store.config.person(TIMEZONE, 1) == "Europe/London"
        assert await store.config.own(TIMEZONE, PERSON, 2) is None
        assert await store.config.person(TIMEZONE, 3) == ""
        assert await store.reminders.zone_of(1) == "Europe/London"
        assert (await store.servers.get(10)).vote_count == 3
        assert [f.fact for f in await store.facts.rows(1)] == ["Alice sails"]  # users kept whole
        await store.config.set(TIMEZONE, PERSON, 2, "Asia/Tokyo")  # set since
    finally:
        await store.close()
    async with engine.begin() as conn:  # and down again: the column holds them
        await conn.run_sync(migrate_to("0043_scoped_settings", down=True))
        zones = (await conn.exec_driver_sql("SELECT id, timezone FROM users ORDER BY id")).all()
        scoped = (await conn.exec_driver_sql("SELECT scope, scope_id, key FROM scoped_settings")).all()
        facts = (await conn.exec_driver_sql("SELECT fact FROM user_facts")).all()
    await engine.dispose()
    assert [tuple(r) for r in zones] == [(1, "Europe/London"), (2, "Asia/Tokyo"), (3, None)]
    assert [tuple(r) for r in scoped] == [("server", 10, "vote_count")]
    assert [tuple(r) for r in facts] == [("Alice sails",)]
