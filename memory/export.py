"""/export_me: a person's own data as one JSON file (database/export.py reads it), at most once per person
every few minutes (the file can be large: each is a full read of their rows). Its keys and rows are data, as
stored; its own descriptions (``what`` it holds, why something is ``left_out``) are read by the person: said
in their language."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.i18n import N_, t
from database.export import CLOSED_AS_STAFF, NOT_EXPORTED, OTHER_COLUMNS, QUOTED_BY_ANOTHER
from database.models import utcnow
from database.store import Store

EXPORT_EVERY_SECONDS = 300.0  # one export per person per five minutes (per bot process)
# Discord's upload limit for a bot outside boosted servers (10 MiB); a larger file is sent gzipped.
UPLOAD_LIMIT = 10 * 1024 * 1024
UPLOAD_MARGIN = 64 * 1024  # the message's own fields, sent with the file
JSON_SAFE = 2**53  # ids above this lose digits in JavaScript's numbers: written as strings

WHAT = N_("everything {character} has stored about you (what /forget_me deletes)")
# database/export.py's reasons for what stays out, by their code (that layer reads no catalogs)
LEFT_OUT_BECAUSE: dict[str, str] = {
    QUOTED_BY_ANOTHER: N_("another person's note quoting you (\"Remember this\"): that person's memory"),
    CLOSED_AS_STAFF: N_("a ticket someone else opened that you closed as staff: the opener's"),
}
# recall's vectors, taken out of every table's rows
EMBEDDINGS_LEFT_OUT = N_("the vectors recall compares meanings with: numbers, nothing readable")


@dataclass(frozen=True)
class ExportFile:
    filename: str
    data: bytes
    tables: int  # how many kinds of record it holds
    rows: int


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= JSON_SAFE:
        return str(value)
    return value


class PersonalExport:
    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._clock = clock
        self._last: dict[int, float] = {}  # person -> when their last export was made

    def wait_left(self, user_id: int) -> float:
        """Seconds until ``user_id`` may ask again (0: now)."""
        last = self._last.get(user_id)
        return 0.0 if last is None else max(0.0, last + EXPORT_EVERY_SECONDS - self._clock())

    async def make(self, user_id: int, *, character: str, language: str = "en",
                   now: datetime | None = None) -> ExportFile:
        """Their data as a file (counted against the limit from now), its descriptions in ``language``."""
        self._last[user_id] = self._clock()
        if len(self._last) > 10_000:  # long past their wait: dropped
            cutoff = self._clock() - EXPORT_EVERY_SECONDS
            self._last = {u: t for u, t in self._last.items() if t > cutoff}
        tables = await self.store.export.rows(user_id)
        name = "".join(c for c in character.lower().replace(" ", "-") if c.isalnum() or c in "-_")
        # A long-known person's rows run to tens of megabytes: made into JSON (and gzipped) in a thread, so
        # the replies, the heartbeat and everyone's commands go on meanwhile.
        data, gzipped = await asyncio.to_thread(encode, tables, user_id, character, now or utcnow(), language)
        filename = f"{name or 'kindred'}-your-data.json" + (".gz" if gzipped else "")
        return ExportFile(filename, data, len(tables), sum(len(rows) for rows in tables.values()))


def encode(tables: dict[str, list[dict[str, Any]]], user_id: int, character: str, made: datetime,
           language: str = "en") -> tuple[bytes, bool]:
    """The export file's bytes, and whether they are gzipped (past Discord's upload limit); its
    descriptions in ``language``, its keys as machines read them."""
    document = {
        "what": t(language, WHAT, character=character),
        "user_id": str(user_id),
        "made_at": made.isoformat(),
        "tables": _json_safe(tables),
        "left_out": {
            **{name: t(language, LEFT_OUT_BECAUSE[code]) for name, code in NOT_EXPORTED.items()},
            **{f"{table}.{column}": t(language, LEFT_OUT_BECAUSE[code])
               for (table, column), code in OTHER_COLUMNS.items()},
            "embeddings": t(language, EMBEDDINGS_LEFT_OUT),
        },
    }
    data = json.dumps(document, ensure_ascii=False, indent=1, default=str).encode()
    if len(data) > UPLOAD_LIMIT - UPLOAD_MARGIN:
        return gzip.compress(data), True
    return data, False
