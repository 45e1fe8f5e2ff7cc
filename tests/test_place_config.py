"""One way to configure a place (database/place_config.py): every registered setting is set and read at each
of its scopes through the one accessor (the list comes from the registrations), a new setting needs no
migration, migration 0043 moves the old tables' rows into it (and back), and a server's proactive is one
setting whichever command sets it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from bot.core.config import Settings
from bot.runtime import composition  # noqa: F401  every registration the running bot makes
from bot.servertools.settings import KEYS
from cogs.activation import SWITCHES
from database.engine import make_engine
from database.migrating import head_revisions
from database.place_config import CHANNEL, SCOPES, SERVER, PlaceConfig, register, registered, setting
from database.records import ServerConfig
from database.servers import FIELDS
from database.store import Store
from tests.dbtools import migrate_to, reset_schema
from tests.harness import ADMIN_ID, CHANNEL_ID, GUILD_ID, Harness
from tests.server_support import answer, sub
from tests.test_activation import bot_command
from tests.test_fact_history import downgrade_to

SAMPLES: dict[str, tuple[object, object]] = {"bool": (True, False), "int": (12345678901234567, 7),
                                             "str": ("German", "")}


def test_the_registrations_name_every_place_setting_and_its_default() -> None:
    keys = {s.key: s for s in registered()}
    assert {scope for s in registered() for scope in s.scopes} == set(SCOPES)
    for name, switch in SWITCHES.items():  # the /bot switches, the features' among them
        follows = f"{switch.section}.{switch.key}" if switch.key else ""
        assert keys[name].kind == "bool" and keys[name].follows == follows
        assert keys[name].scopes == {SERVER, CHANNEL}
        assert follows or keys[name].default is switch.default
    for spec in KEYS.values():  # /settings
        assert SERVER in keys[spec.column].scopes
    assert set(FIELDS) == {f for f in ServerConfig.__dataclass_fields__ if f != "guild_id"}
    assert keys["active"].default is True
    defaults = Settings(Path("finn"))
    for each in registered():  # a followed key names a real global setting of the setting's type
        section, _, name = each.follows.partition(".")
        default = getattr(getattr(defaults, section), name) if each.follows else each.default
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


async def test_a_new_setting_is_a_registration_not_a_migration(store: Store) -> None:
    columns = await column_names(store)
    heads = head_revisions()
    quiet = register("quiet_here", "bool", follows="discord.swipes", help="answer only when addressed").key
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
        await conn.run_sync(downgrade_to("0042_fact_gloss"))
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
