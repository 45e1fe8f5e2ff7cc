"""Per-place switches answered from a copy of their table (database/switches.py): this process's own change,
a removal included, applies at once; another process's once the cluster passes it on."""

from __future__ import annotations

from database.place_config import PlaceConfig
from database.store import Store
from database.switches import PlaceSwitches


async def test_a_switch_set_and_removed_applies_to_the_next_ask(store: Store) -> None:
    switches = store.switches
    assert await switches.is_on("reactions", 1, 10, True) is True
    await switches.set("reactions", "guild", 10, False)
    assert await switches.get("reactions", 1, 10) == (None, False)
    await switches.set("reactions", "channel", 1, True)
    assert await switches.get("reactions", 1, 10) == (True, False)
    assert await switches.get("proactive", 1, 10) == (None, None)  # another switch of the same place
    await switches.set("reactions", "channel", 1, None)  # the row goes: the copy forgets it too
    assert await switches.get("reactions", 1, 10) == (None, False)
    assert await switches.is_on("reactions", 1, 10, True) is False


async def test_another_processs_change_applies_once_forgotten(store: Store) -> None:
    other = PlaceSwitches(PlaceConfig(store.db))  # another process's copy of the same table
    assert await other.get("reminders", 2, 20) == (None, None)  # read: a copy is held
    await store.switches.set("reminders", "channel", 2, False)
    assert store.changes.take()[1]  # noted for the cluster to pass on
    other.forget()  # what the cluster's invalidate does
    assert await other.get("reminders", 2, 20) == (False, None)
    await store.switches.set("reminders", "channel", 2, None)
    other.forget()
    assert await other.get("reminders", 2, 20) == (None, None)
    await other.drain()
