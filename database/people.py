"""People: the users the character has seen, their plan and memory consent, the figures an admin may see
about them (never message text), and how the character feels about each of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Connection, String, bindparam, cast, delete, func, or_, select, update

from database.boundary import NamedRow, Statements
from database.engine import Database
from database.models import (
    ApiCall,
    Conversation,
    CoreMemory,
    HistoryMessage,
    Relationship,
    User,
    UserFact,
    utcnow,
)
from database.person_read import read_felt_since
from database.person_settings import TIMEZONE
from database.place_config import PERSON, PlaceConfig
from database.records import RelationshipRecord, Usage, UserRecord, UserSummary, as_utc
from database.rowmap import record
from database.stamps import mark_deleted
from database.statements import USER_RECORD_COLUMNS, execute_all, user_record
from database.usage import usage_totals

# The last interaction moved after each reply: built once (building an update costs more than running it).
_MOVE_ON = update(User).where(User.id == bindparam("user_id")).values(last_interaction=bindparam("now"))
_MOVE_ON_RECENT = _MOVE_ON.where(or_(User.last_interaction.is_(None),
                                     User.last_interaction >= bindparam("forget_before")))


class People:
    def __init__(self, db: Database, q: Statements, config: PlaceConfig) -> None:
        self.db = db
        self._q = q
        self._config = config  # a person's own settings (database/person_settings.py)

    # -- users

    async def ensure_user(self, user_id: int, name: str, is_bot: bool = False) -> None:
        now = utcnow()
        ins = self.db.insert(User).values(id=user_id, name=name[:100], is_bot=is_bot, premium=False,
                                          first_seen=now, last_seen=now)
        await self.db.change(ins.on_conflict_do_nothing(index_elements=[User.id]))

    async def get_user(self, user_id: int) -> UserRecord | None:
        row = await self.db.read_shared(
            lambda conn: conn.execute(self._q["user_record"], {"user_id": user_id}).first())
        return None if row is None else user_record(row)

    async def list_users(
        self, *, offset: int = 0, limit: int = 10, humans_only: bool = True
    ) -> list[UserRecord]:
        """Most recently seen first."""
        query = (
            select(*USER_RECORD_COLUMNS).order_by(User.last_seen.desc(), User.id).offset(offset).limit(limit)
        )
        if humans_only:
            query = query.where(User.is_bot.is_(False))
        return [user_record(r) for r in await self.db.rows(query)]

    async def count_users(self, *, humans_only: bool = True) -> int:
        query = select(func.count()).select_from(User)
        if humans_only:
            query = query.where(User.is_bot.is_(False))
        return int(await self.db.scalar(query))

    async def search_users(self, text: str, *, limit: int = 25) -> list[UserRecord]:
        """Users whose name contains ``text`` or whose id starts with it, most recently seen first
        (autocomplete of user options)."""
        query = select(*USER_RECORD_COLUMNS).order_by(User.last_seen.desc(), User.id).limit(limit)
        text = text.strip()
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conds = [User.name.ilike(pattern, escape="\\")]
            if text.isdigit():
                conds.append(cast(User.id, String).like(text + "%"))
            query = query.where(or_(*conds))
        return [user_record(r) for r in await self.db.rows(query)]

    async def set_premium(self, user_id: int, premium: bool) -> None:
        await self.db.change(update(User).where(User.id == user_id).values(premium=premium))

    async def set_memory_consent(self, user_id: int, consent: bool | None) -> None:
        await self.db.change(update(User).where(User.id == user_id).values(memory_consent=consent))

    async def set_memory_everywhere(self, user_id: int, everywhere: bool) -> None:
        """``/memory servers``: whether facts learnt in one server are recalled in the others too."""
        await self.db.change(update(User).where(User.id == user_id).values(memory_everywhere=everywhere))

    async def set_timezone(self, user_id: int, zone: str | None) -> None:
        """``/memory timezone``: the IANA zone the person lives in (None: forget it), a person setting."""
        await self._config.set(TIMEZONE, PERSON, user_id, zone or None)

    async def last_interaction(self, user_id: int) -> datetime | None:
        value = await self.db.scalar(select(User.last_interaction).where(User.id == user_id))
        return as_utc(value) if value is not None else None

    async def touch_interaction(self, user_id: int, now: datetime, forget_before: datetime | None) -> int:
        """Record an exchange with a character at ``now``. Someone whose previous one is older than
        ``forget_before`` (silent longer than the soft expiry) first loses their facts that expire (neither
        pinned nor lasting), in the same transaction, as the daily prune would have: coming back does not
        bring them back. Returns how many facts were forgotten."""
        q = self._q

        def write(conn: Connection) -> int:
            # The common case in one statement: someone not silent that long (or no expiry) is moved on.
            moved = {"user_id": user_id, "now": now}
            if forget_before is None:
                recent = conn.execute(_MOVE_ON, moved)
            else:
                recent = conn.execute(_MOVE_ON_RECENT, {**moved, "forget_before": forget_before})
            if recent.rowcount:
                return 0
            previous = conn.execute(q["last_interaction"], {"user_id": user_id}).scalar()
            gone = 0
            if forget_before is not None and previous is not None and as_utc(previous) < forget_before:
                gone = int(conn.execute(delete(UserFact).where(
                    UserFact.user_id == user_id, UserFact.pinned.is_(False),
                    UserFact.lasting.is_(False))).rowcount or 0)
                if gone:
                    mark_deleted(conn, [user_id], facts=True)
            execute_all(conn, q["last_interaction_set"], [{"user_id": user_id, "now": now}])
            return gone

        return await self.db.write_shared(write)  # after a reply, with the other listeners' writes

    async def memory_consents(self) -> dict[int, bool]:
        """Users who answered /memory opt-in (True) or opt-out (False); everyone else never asked."""
        rows = await self.db.rows(
            select(User.id, User.memory_consent).where(User.memory_consent.is_not(None))
        )
        return {int(r[0]): bool(r[1]) for r in rows}

    # -- what an admin may see

    async def user_summary(self, character: str, user_id: int) -> UserSummary | None:
        user = await self.get_user(user_id)
        if user is None:
            return None
        return (await self._summaries(character, [user]))[0]

    async def user_summaries(
        self, character: str, *, offset: int = 0, limit: int = 10, humans_only: bool = True
    ) -> list[UserSummary]:
        """A page of :class:`UserSummary` as ordered by list_users (most recently seen first): one grouped
        query per figure instead of one user_summary() per user."""
        users = await self.list_users(offset=offset, limit=limit, humans_only=humans_only)
        return await self._summaries(character, users) if users else []

    async def summaries_of(self, character: str, users: list[UserRecord]) -> list[UserSummary]:
        """:class:`UserSummary` of the given people, in their order (e.g. search results): one grouped query
        per figure."""
        return await self._summaries(character, users) if users else []

    async def _summaries(self, character: str, users: list[UserRecord]) -> list[UserSummary]:
        ids = [u.id for u in users]
        usage_query = (
            usage_totals(ApiCall.user_id.in_(ids)).add_columns(ApiCall.user_id).group_by(ApiCall.user_id)
        )
        history_query = (
            select(
                Conversation.user_id,
                func.count(HistoryMessage.id).label("messages"),
                func.coalesce(func.sum(HistoryMessage.tokens), 0).label("tokens"),
            )
            .join(HistoryMessage, HistoryMessage.conversation_id == Conversation.id)
            .where(Conversation.user_id.in_(ids), Conversation.character == character)
            .group_by(Conversation.user_id)
        )
        memory_query = (
            select(CoreMemory.user_id, func.count().label("memories"))
            .where(CoreMemory.user_id.in_(ids), CoreMemory.character == character)
            .group_by(CoreMemory.user_id)
        )

        def read(conn: Connection) -> tuple[Sequence[NamedRow], Sequence[NamedRow], Sequence[NamedRow]]:
            return (
                conn.execute(usage_query).all(),
                conn.execute(history_query).all(),
                conn.execute(memory_query).all(),
            )

        usage_rows, history_rows, memory_rows = await self.db.read(read)
        usage = {int(r.user_id): record(Usage, r) for r in usage_rows}
        history = {int(r.user_id): (int(r.messages), int(r.tokens)) for r in history_rows}
        memories = {int(r.user_id): int(r.memories) for r in memory_rows}
        return [
            UserSummary(u, usage.get(u.id, Usage()), *history.get(u.id, (0, 0)), memories.get(u.id, 0))
            for u in users
        ]

    # -- relationships (the ranges and how values are bounded are memory/relationships.py's rule)

    async def relationship(self, character: str, user_id: int) -> RelationshipRecord:
        rel = await self.db.first(
            select(
                Relationship.anger, Relationship.rapport, Relationship.trust, Relationship.formality
            ).where(Relationship.character == character, Relationship.user_id == user_id)
        )
        return RelationshipRecord(*rel) if rel else RelationshipRecord()

    async def felt_since(self, character: str, user_id: int, *, public: bool = False) -> datetime | None:
        """Since when the relationship says what it says, as their DMs may tell it (any talk changed it), or
        (``public``) as a public place may (only when public talk changed it last)."""
        raw = await self.db.scalar(select(Relationship.felt_since).where(
            Relationship.character == character, Relationship.user_id == user_id))
        return read_felt_since(raw)[1 if public else 0]

    async def set_relationship(self, character: str, user_id: int, **values: float) -> RelationshipRecord:
        """Set some metrics (already bounded by the caller: memory.relationships.clamp_metrics), keeping the
        others; returns the relationship as stored."""
        unknown = set(values) - set(asdict(RelationshipRecord()))
        if unknown:
            raise ValueError(f"unknown metric {sorted(unknown)[0]!r}")
        merged = {
            **asdict(await self.relationship(character, user_id)),
            **{k: float(v) for k, v in values.items()},
        }
        # set by hand: since when it says what it says is no longer known (memory/relationships.py dates
        # only what a consolidation changed)
        unknown_since = {"felt_since": None}
        ins = self.db.insert(Relationship).values(
            character=character, user_id=user_id, updated_at=utcnow(), **merged, **unknown_since
        )
        await self.db.change(
            ins.on_conflict_do_update(
                index_elements=[Relationship.character, Relationship.user_id],
                set_={**{k: getattr(ins.excluded, k) for k in (*merged, *unknown_since)},
                      "updated_at": ins.excluded.updated_at},
            )
        )
        return RelationshipRecord(**merged)

    async def delete_relationship(self, character: str, user_id: int) -> bool:
        return bool(
            await self.db.change(
                delete(Relationship).where(
                    Relationship.character == character, Relationship.user_id == user_id
                )
            )
        )
