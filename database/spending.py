"""What was spent today, for the spending limits (bot/operator/limits.py): read from the recorded model calls
(``api_calls``), so the figures survive a restart and are shared by every process on the same database.

One query per message, holding only the figures a configured limit needs; each sum walks an index
(``ix_api_calls_user_id_created_at``, ``ix_api_calls_guild_id_created_at``, ``ix_api_calls_created_at``)
over today's rows only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.selectable import ScalarSelect

from database.engine import Database
from database.models import ApiCall, User

# A person's tokens: what they made the model read and write. Cache reads are left out: they cost a tenth
# of an input token, and every reply re-reads the cached character prompt.
N = TypeVar("N", int, float)  # a sum of tokens, or of dollars
PERSON_TOKENS = ApiCall.input_tokens + ApiCall.output_tokens + ApiCall.cache_creation_tokens


@dataclass(frozen=True)
class SpentToday:
    """Since the start of the operator's day; 0 for a figure that was not asked for."""

    person_tokens: int = 0
    premium: bool = False
    server_usd: float = 0.0
    global_usd: float = 0.0


def _sum(what: ColumnElement[N] | InstrumentedAttribute[N], zero: N,
         *where: ColumnElement[bool]) -> ScalarSelect[N]:
    return select(func.coalesce(func.sum(what), zero)).where(*where).scalar_subquery()


class Spending:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def today(self, since: datetime, *, user_id: int | None = None, guild_id: int | None = None,
                    everyone: bool = False) -> SpentToday:
        """One trip: ``user_id``'s tokens and premium flag, ``guild_id``'s cost and (``everyone``) the whole
        bot's cost, each counted from ``since`` (an aware datetime)."""
        # A query needs one column even when nothing else is asked.
        columns: list[ColumnElement[int] | ColumnElement[float] | ColumnElement[bool]] = [literal(0)]
        names: list[str] = ["_"]
        today = ApiCall.created_at >= since
        if user_id is not None:
            columns.append(_sum(PERSON_TOKENS, 0, ApiCall.user_id == user_id, today))
            columns.append(select(User.premium).where(User.id == user_id).scalar_subquery())
            names += ["person_tokens", "premium"]
        if guild_id is not None:
            columns.append(_sum(ApiCall.cost, 0.0, ApiCall.guild_id == guild_id, today))
            names.append("server_usd")
        if everyone:
            columns.append(_sum(ApiCall.cost, 0.0, today))
            names.append("global_usd")
        row = await self.db.first(select(*columns))
        values = dict(zip(names, row or (), strict=False))
        return SpentToday(person_tokens=int(values.get("person_tokens") or 0),
                          premium=bool(values.get("premium") or False),
                          server_usd=float(values.get("server_usd") or 0.0),
                          global_usd=float(values.get("global_usd") or 0.0))

    async def searches(self, since: datetime, *, user_id: int, guild_id: int | None) -> tuple[int, int]:
        """(``user_id``'s, ``guild_id``'s) web searches from ``since``, in one trip (0 for a DM's server):
        the day's caps read them before a reply that may search (bot/features/websearch/)."""
        today = ApiCall.created_at >= since
        columns = [_sum(ApiCall.web_searches, 0, ApiCall.user_id == user_id, today),
                   _sum(ApiCall.web_searches, 0, ApiCall.guild_id == guild_id, today)
                   if guild_id is not None else literal(0)]
        row = await self.db.first(select(*columns))
        return (int(row[0] or 0), int(row[1] or 0)) if row is not None else (0, 0)
