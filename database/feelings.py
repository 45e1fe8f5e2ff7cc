"""Where the character's feelings are kept (bot/alive/feelings.py decides them): toward each person
(``person_feelings``, beside the relationship) and in each channel (``place_feelings``). Read at each
exchange, so every process of a cluster, and a restart, sees what the last exchange left."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, delete, select

from database.alive_models import PersonFeeling, PlaceFeeling
from database.engine import Database
from database.models import User, utcnow

# (stored feeling or "", the person's memory consent) -> the feeling to keep, or None to keep none.
PersonUpdate = Callable[[str, bool | None], str | None]
PlaceUpdate = Callable[[str], str]


class FeelingRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def read(self, character: str, user_id: int, channel_id: int | None = None) -> tuple[str, str]:
        """How the character feels toward a person and, given ``channel_id``, in that channel, as stored
        ("" where nothing is): one small read, shared with the others of the moment."""

        def read(conn: Connection) -> tuple[str, str]:
            person = conn.execute(select(PersonFeeling.feeling).where(
                PersonFeeling.character == character, PersonFeeling.user_id == user_id)).scalar()
            place = None if channel_id is None else conn.execute(select(PlaceFeeling.feeling).where(
                PlaceFeeling.character == character, PlaceFeeling.channel_id == channel_id)).scalar()
            return str(person or ""), str(place or "")

        return await self.db.read_shared(read)

    async def move(self, character: str, user_id: int, person: PersonUpdate,
                   channel_id: int | None = None, place: PlaceUpdate | None = None) -> None:
        """One exchange: the feeling toward the person, and the room's in ``channel_id``, read, changed by
        the updates and written back in one transaction (the consent check with it: nothing is kept of
        someone who opted out). A person never stored (or just forgotten) gets no feeling."""
        db = self.db

        def write(conn: Connection) -> None:
            consent = conn.execute(select(User.memory_consent).where(User.id == user_id)).first()
            if consent is not None:
                mine = (PersonFeeling.character == character, PersonFeeling.user_id == user_id)
                old = conn.execute(select(PersonFeeling.feeling).where(*mine).with_for_update()).scalar()
                new = person(str(old or ""), consent[0])
                if new is None:
                    if old is not None:
                        conn.execute(delete(PersonFeeling).where(*mine))
                else:
                    ins = db.insert(PersonFeeling).values(character=character, user_id=user_id, feeling=new,
                                                          updated_at=utcnow())
                    conn.execute(ins.on_conflict_do_update(
                        index_elements=[PersonFeeling.character, PersonFeeling.user_id],
                        set_={"feeling": ins.excluded.feeling, "updated_at": ins.excluded.updated_at}))
            if channel_id is not None and place is not None:
                here = (PlaceFeeling.character == character, PlaceFeeling.channel_id == channel_id)
                before = conn.execute(select(PlaceFeeling.feeling).where(*here).with_for_update()).scalar()
                room = db.insert(PlaceFeeling).values(character=character, channel_id=channel_id,
                                                      feeling=place(str(before or "")), updated_at=utcnow())
                conn.execute(room.on_conflict_do_update(
                    index_elements=[PlaceFeeling.character, PlaceFeeling.channel_id],
                    set_={"feeling": room.excluded.feeling, "updated_at": room.excluded.updated_at}))

        await db.write_shared(write)  # after a reply, with the other listeners' writes
