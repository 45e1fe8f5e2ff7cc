"""Where the character's feelings are kept (bot/alive/feelings.py decides them): toward each person
(``person_feelings``, beside the relationship) and in each channel (``place_feelings``). A reply reads them
with its prompt data (database/conversations.py, the "feelings" statement here); an exchange that moves them
writes them back, so every process of a cluster, and a restart, sees what the last exchange left."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select, update

from database.alive_models import PersonFeeling, PlaceFeeling
from database.boundary import Statements
from database.engine import Database
from database.models import User, utcnow

# (stored feeling or "", the person's memory consent) -> the feeling to keep, or None to keep none.
PersonUpdate = Callable[[str, bool | None], str | None]
PlaceUpdate = Callable[[str], str]

_MINE = (PersonFeeling.character == bindparam("character"), PersonFeeling.user_id == bindparam("user_id"))
_HERE = (PlaceFeeling.character == bindparam("character"), PlaceFeeling.channel_id == bindparam("channel_id"))


def feeling_statements() -> Statements:
    """"feelings": (toward the person, in the channel) as stored, NULL where nothing is; one of the prompt
    read's (database/statements.py)."""
    return {"feelings": select(select(PersonFeeling.feeling).where(*_MINE).scalar_subquery(),
                               select(PlaceFeeling.feeling).where(*_HERE).scalar_subquery())}


def prune_reactions(conn: Connection, before: datetime) -> int:
    """The retention's part here: reactions kept with a feeling (bot/alive/felt.py, ``reacted``) made before
    ``before`` are let go (whatever holds what a person did expires as their words do); how many."""
    gone = 0
    rows = conn.execute(select(PersonFeeling.character, PersonFeeling.user_id, PersonFeeling.feeling)
                        .where(PersonFeeling.feeling.contains('"reacted"'))).all()
    for character, user_id, raw in rows:
        try:
            data = json.loads(raw)
            kept = [r for r in data["reacted"] if datetime.fromisoformat(str(r["at"])) >= before]
        except (ValueError, KeyError, TypeError):
            continue  # unreadable: the reader calms it (bot/alive/regard.py)
        if len(kept) == len(data["reacted"]):
            continue
        gone += len(data["reacted"]) - len(kept)
        data["reacted"] = kept
        conn.execute(update(PersonFeeling).where(PersonFeeling.character == character,
                                                 PersonFeeling.user_id == user_id)
                     .values(feeling=json.dumps(data, separators=(",", ":"))))
    return gone


class FeelingRows:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Built once: building a statement costs more than running it on SQLite.
        self._consent = select(User.memory_consent).where(User.id == bindparam("user_id"))
        self._person = select(PersonFeeling.feeling).where(*_MINE).with_for_update()
        self._place = select(PlaceFeeling.feeling).where(*_HERE).with_for_update()
        self._drop = delete(PersonFeeling).where(*_MINE)
        ins = db.insert(PersonFeeling)
        self._keep = ins.on_conflict_do_update(
            index_elements=[PersonFeeling.character, PersonFeeling.user_id],
            set_={"feeling": ins.excluded.feeling, "updated_at": ins.excluded.updated_at})
        room = db.insert(PlaceFeeling)
        self._room = room.on_conflict_do_update(
            index_elements=[PlaceFeeling.character, PlaceFeeling.channel_id],
            set_={"feeling": room.excluded.feeling, "updated_at": room.excluded.updated_at})
        self._both = feeling_statements()["feelings"]

    async def read(self, character: str, user_id: int, channel_id: int | None = None) -> tuple[str, str]:
        """How the character feels toward a person and, given ``channel_id``, in that channel, as stored
        ("" where nothing is): one small read, shared with the others of the moment (a reply has them in
        its prompt data already)."""

        def read(conn: Connection) -> tuple[str, str]:
            person, place = conn.execute(self._both, {"character": character, "user_id": user_id,
                                                      "channel_id": channel_id}).one()
            return str(person or ""), str(place or "") if channel_id is not None else ""

        return await self.db.read_shared(read)

    async def move(self, character: str, user_id: int, person: PersonUpdate,
                   channel_id: int | None = None, place: PlaceUpdate | None = None) -> None:
        """One exchange: the feeling toward the person, and the room's in ``channel_id``, read, changed by
        the updates and written back in one transaction (the consent check with it: nothing is kept of
        someone who opted out). A person never stored (or just forgotten) gets no feeling."""
        key = {"character": character, "user_id": user_id, "channel_id": channel_id}

        def write(conn: Connection) -> None:
            consent = conn.execute(self._consent, key).first()
            if consent is not None:
                old = conn.execute(self._person, key).scalar()
                new = person(str(old or ""), consent[0])
                if new is None:
                    if old is not None:
                        conn.execute(self._drop, key)
                else:
                    conn.execute(self._keep, {"character": character, "user_id": user_id, "feeling": new,
                                              "updated_at": utcnow()})
            if channel_id is not None and place is not None:
                before = conn.execute(self._place, key).scalar()
                conn.execute(self._room, {"character": character, "channel_id": channel_id,
                                          "feeling": place(str(before or "")), "updated_at": utcnow()})

        await self.db.write_shared(write)  # after a reply, with the other listeners' writes
