"""database/refreshing.py: a small settings table kept whole in memory, refreshed without making a message
wait, by the rows changed since the newest one seen."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from database.refreshing import OVERLAP, TableMirror

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Table:
    """Rows (key -> value, updated_at), read through a gate the test opens; each read's ``since`` kept.
    ``broken``: each read fails with it (the database down)."""

    def __init__(self) -> None:
        self.rows: dict[int, tuple[str, datetime]] = {1: ("one", T0)}
        self.reads: list[datetime | None] = []
        self.began = asyncio.Event()  # set as each read begins
        self.gate = asyncio.Event()
        self.gate.set()
        self.broken: Exception | None = None

    def write(self, key: int, value: str, at: datetime) -> None:
        self.rows[key] = (value, at)

    def delete(self, key: int) -> None:
        del self.rows[key]

    async def load(self, since: datetime | None) -> tuple[list[tuple[int, str, datetime]], int]:
        self.reads.append(since)
        self.began.set()
        if self.broken is not None:
            raise self.broken
        snapshot = dict(self.rows)  # what the database holds when the read begins
        await self.gate.wait()
        return [(k, v, at) for k, (v, at) in snapshot.items() if since is None or at >= since], len(snapshot)


async def test_the_first_askers_share_one_read_of_the_whole_table_then_the_copy_answers() -> None:
    table = Table()
    table.gate.clear()
    mirror: TableMirror[int, str] = TableMirror(60, table.load)
    waiting = [asyncio.ensure_future(mirror.get(k)) for k in (1, 1, 2, 1, 2)]
    await asyncio.sleep(0)
    table.gate.set()
    assert await asyncio.gather(*waiting) == ["one", "one", None, "one", None]  # 2: no row
    assert table.reads == [None]  # one read, of everything
    assert await mirror.get(3) is None and await mirror.get(1) == "one" and len(table.reads) == 1


async def test_after_its_seconds_the_copy_answers_while_one_read_fetches_what_changed() -> None:
    table = Table()
    mirror: TableMirror[int, str] = TableMirror(0.0, table.load)  # due for a refresh at every ask
    assert await mirror.get(1) == "one"
    table.write(2, "two", T0 + timedelta(minutes=10))
    table.gate.clear()
    assert await mirror.get(2) is None  # no wait: the copy, and a read under way
    assert await mirror.get(2) is None
    await asyncio.sleep(0)
    assert table.reads == [None, T0 - OVERLAP]  # one read however many ask, of the rows changed since
    table.gate.set()
    await mirror.close()
    assert await mirror.get(2) == "two" and await mirror.get(1) == "one"  # the rest of the copy stays
    await mirror.close()
    assert table.reads[-1] == T0 + timedelta(minutes=10) - OVERLAP  # the newest row seen moves on


async def test_a_row_stamped_by_a_clock_a_little_behind_is_not_missed() -> None:
    table = Table()
    mirror: TableMirror[int, str] = TableMirror(0.0, table.load)
    table.write(2, "ahead", T0 + timedelta(minutes=1))
    assert await mirror.get(1) == "one"
    await mirror.close()
    table.write(3, "behind", T0 + timedelta(seconds=30))  # written after, by a process whose clock lags
    await mirror.get(1)
    await mirror.close()
    assert await mirror.get(3) == "behind"


async def test_our_own_change_is_read_back_before_the_next_message_even_with_a_read_under_way() -> None:
    table = Table()
    clock = [1000.0]
    mirror: TableMirror[int, str] = TableMirror(60, table.load, clock=lambda: clock[0])
    assert await mirror.get(1) == "one"
    clock[0] += 60  # due: the next ask starts a background read
    table.gate.clear()
    assert await mirror.get(1) == "one"
    table.began.clear()
    await table.began.wait()  # that read begins before the write below: it holds the old value
    table.write(1, "changed", T0 + timedelta(seconds=1))
    refreshing = asyncio.ensure_future(mirror.refresh())  # what set_active() / update() await
    await asyncio.sleep(0)
    table.gate.set()
    await refreshing
    assert await mirror.get(1) == "changed"
    await mirror.close()
    assert await mirror.get(1) == "changed"  # the older read did not land after the newer one


async def test_forget_reads_the_whole_table_again_and_waits_for_it() -> None:
    table = Table()
    mirror: TableMirror[int, str] = TableMirror(60, table.load)
    assert await mirror.get(1) == "one"
    table.write(1, "elsewhere", T0 - timedelta(days=1))  # another process's change, its clock far behind
    mirror.forget()  # the cluster passed it on
    assert await mirror.get(1) == "elsewhere"
    assert table.reads == [None, None]


async def test_a_read_begun_before_forget_does_not_count_as_fresh() -> None:
    table = Table()
    mirror: TableMirror[int, str] = TableMirror(60, table.load)
    table.gate.clear()
    first = asyncio.ensure_future(mirror.get(1))
    await table.began.wait()  # the first read begins: it holds the old value
    table.write(1, "elsewhere", T0 + timedelta(seconds=1))
    mirror.forget()
    table.gate.set()
    await first
    assert await mirror.get(1) == "elsewhere"  # read again, whole
    assert table.reads == [None, None]


async def test_a_failed_refresh_keeps_the_copy_and_tries_again_after_its_seconds() -> None:
    table = Table()
    clock = [1000.0]
    mirror: TableMirror[int, str] = TableMirror(60, table.load, clock=lambda: clock[0])
    assert await mirror.get(1) == "one"
    table.broken = RuntimeError("database down")
    clock[0] += 60  # due
    assert await mirror.get(1) == "one"
    await mirror.close()
    assert len(table.reads) == 2
    assert await mirror.get(1) == "one"  # still served, and not read again at every message
    await mirror.close()
    assert len(table.reads) == 2
    clock[0] += 60  # its seconds passed
    await mirror.get(1)
    await mirror.close()
    assert len(table.reads) == 3


async def test_an_unchanged_row_keeps_its_object() -> None:
    table = Table()
    value = "one-but-not-interned".upper().lower()
    table.write(1, value, T0)
    mirror: TableMirror[int, str] = TableMirror(0.0, table.load)
    first = await mirror.get(1)
    table.write(1, "ONE-BUT-NOT-INTERNED".lower(), T0)  # equal, another object, read again by the overlap
    await mirror.close()
    await mirror.get(1)
    await mirror.close()
    assert await mirror.get(1) is first


async def test_an_unchanged_row_keeps_its_object_across_a_whole_read() -> None:
    table = Table()
    table.write(1, "one-but-not-interned".upper().lower(), T0)
    mirror: TableMirror[int, str] = TableMirror(60, table.load)
    first = await mirror.get(1)
    table.write(1, "ONE-BUT-NOT-INTERNED".lower(), T0)  # equal, another object
    table.write(2, "two", T0)
    mirror.forget()  # another process changed a row: the whole table is read again
    assert await mirror.get(2) == "two"
    assert await mirror.get(1) is first


async def test_settled_names_the_copy_an_ask_would_answer_from() -> None:
    """What is derived from the copy is kept while settled() stays the same number: None until a copy is
    held and after forget() (the next ask reads and waits); when the refresh is due it starts the read, as
    an ask would, and the number moves once the read brings a change."""
    table = Table()
    mirror: TableMirror[int, str] = TableMirror(0.0, table.load)  # due for a refresh at every ask
    assert mirror.settled() is None and table.reads == []
    await mirror.get(1)
    table.write(2, "two", T0 + timedelta(minutes=10))
    table.gate.clear()
    held = mirror.settled()
    assert held is not None and mirror.settled() == held  # the copy answers while one read is under way
    await asyncio.sleep(0)
    assert table.reads == [None, T0 - OVERLAP]
    table.gate.set()
    await mirror.close()
    moved = mirror.settled()
    assert moved is not None and moved != held
    mirror.forget()
    assert mirror.settled() is None
    await mirror.close()


async def test_a_row_deleted_past_the_mirror_is_dropped_by_the_next_read_of_the_changes() -> None:
    """A row deleted by hand is among no rows changed since; the table then holds fewer rows than the copy,
    and that read goes on to the whole table. While the count agrees, a read stays one of the changes."""
    table = Table()
    table.write(2, "two", T0)
    mirror: TableMirror[int, str] = TableMirror(60, table.load)
    assert await mirror.get(2) == "two"
    version = mirror.version
    table.delete(2)
    await mirror.refresh()
    assert await mirror.get(2) is None and await mirror.get(1) == "one"
    assert table.reads == [None, T0 - OVERLAP, None] and mirror.version == version + 1
    table.write(3, "three", T0 - timedelta(days=1))  # added by hand, stamped before the newest seen
    await mirror.refresh()
    assert await mirror.get(3) == "three"
    await mirror.refresh()
    assert table.reads[-1] == T0 - OVERLAP and len(table.reads) == 6  # counted alike: the changes only
