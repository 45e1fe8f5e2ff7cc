"""``/userinfo`` without Discord: what the character knows of a member (since when, and for admins, how it
feels about them)."""

from __future__ import annotations

from datetime import datetime

from database.people import People
from database.records import RelationshipRecord, UserRecord, as_utc


class UserInfo:
    def __init__(self, people: People) -> None:
        self.people = people

    async def known(self, user_id: int) -> UserRecord | None:
        """The person as the character knows them; None when they have never talked."""
        return await self.people.get_user(user_id)

    async def relationship(self, character: str, user_id: int) -> RelationshipRecord:
        return await self.people.relationship(character, user_id)


def known_since(user: UserRecord, now: datetime) -> int:
    """Whole days since the character first saw ``user``."""
    return (now - as_utc(user.first_seen)).days
