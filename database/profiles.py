"""A persona the person sets (/me): the name the character calls them, their pronouns, a few lines about
themselves. Theirs to state, never learnt: read with every reply's prompt data (the "profile" statement
here, database/person_read.py), so an edit applies to the next message; /forget_me deletes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Connection, String, bindparam, delete, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from database.boundary import Statements
from database.engine import Database
from database.models import TZ, Base, utcnow

NAME_MAX, PRONOUNS_MAX, ABOUT_MAX = 32, 40, 300


class PersonProfile(Base):
    """What a person said of themselves with /me: "" where they set nothing."""

    __tablename__ = "person_profiles"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    pronouns: Mapped[str] = mapped_column(String(PRONOUNS_MAX), default="")
    about: Mapped[str] = mapped_column(String(ABOUT_MAX), default="")
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


@dataclass(frozen=True)
class Profile:
    name: str = ""
    pronouns: str = ""
    about: str = ""

    def __bool__(self) -> bool:
        return bool(self.name or self.pronouns or self.about)


NO_PROFILE = Profile()
_THEIRS = PersonProfile.user_id == bindparam("user_id")


def profile_statements() -> Statements:
    """"profile": (name, pronouns, about), NULL where none is kept; one of the prompt read's."""
    columns = (PersonProfile.name, PersonProfile.pronouns, PersonProfile.about)
    return {"profile": select(*(select(column).where(_THEIRS).scalar_subquery() for column in columns))}


def profile_of(row: tuple[object, ...] | None) -> Profile:
    """The prompt read's "profile" columns as a :class:`Profile`."""
    name, pronouns, about = (str(v or "") for v in (row or ("", "", "")))
    return Profile(name, pronouns, about)


class Profiles:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, user_id: int) -> Profile:
        row = await self.db.read(lambda conn: conn.execute(
            select(PersonProfile.name, PersonProfile.pronouns, PersonProfile.about)
            .where(PersonProfile.user_id == user_id)).first())
        return profile_of(tuple(row) if row is not None else None)

    async def set(self, user_id: int, *, name: str | None = None, pronouns: str | None = None,
                  about: str | None = None) -> Profile:
        """Set the fields given (None: kept as it was; "": cleared); the profile as it now stands."""
        given = (("name", name), ("pronouns", pronouns), ("about", about))
        changes = {k: v for k, v in given if v is not None}

        def write(conn: Connection) -> Profile:
            row = conn.execute(select(PersonProfile.name, PersonProfile.pronouns, PersonProfile.about)
                               .where(PersonProfile.user_id == user_id)).first()
            now = profile_of(tuple(row) if row is not None else None)
            values = {"name": now.name, "pronouns": now.pronouns, "about": now.about, **changes}
            if row is None:
                conn.execute(insert(PersonProfile).values(user_id=user_id, updated_at=utcnow(), **values))
            else:
                conn.execute(update(PersonProfile).where(PersonProfile.user_id == user_id)
                             .values(updated_at=utcnow(), **values))
            return Profile(**values)

        return await self.db.write(write)

    async def clear(self, user_id: int) -> bool:
        """Delete their profile; whether there was one."""
        gone = await self.db.change(delete(PersonProfile).where(PersonProfile.user_id == user_id))
        return bool(gone)


def tidy(name: str | None, pronouns: str | None, about: str | None) -> tuple[dict[str, str], list[str]]:
    """The fields given, each on one line and trimmed (about keeps its own spacing), and what is wrong with
    them: a field over its bound is named with the bound, and nothing is to be stored then."""
    fields = {k: v for k, v in (("name", name), ("pronouns", pronouns), ("about", about)) if v is not None}
    given = {k: (v.strip() if k == "about" else " ".join(v.split())) for k, v in fields.items()}
    bounds = {"name": NAME_MAX, "pronouns": PRONOUNS_MAX, "about": ABOUT_MAX}
    wrong = [f"{k} is {len(v)} characters long; at most {bounds[k]} are kept" for k, v in given.items()
             if len(v) > bounds[k]]
    return given, wrong
