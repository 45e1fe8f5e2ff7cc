"""The cards' words rendered in other languages (bot/reply/deciding/cardwords.py): one row per (hash of a
card's text, language), written once, read by every process of the character."""

from __future__ import annotations

from sqlalchemy import select

from database.boundary import JsonObject
from database.engine import Database
from database.library_models import CardWordsRow
from database.models import utcnow


class CardWordRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, card_key: str, language: str) -> JsonObject | None:
        """The words stored for the card and language, as the model gave them; None when none are."""
        found = await self.db.scalar(select(CardWordsRow.words).where(CardWordsRow.card_key == card_key,
                                                                     CardWordsRow.language == language))
        return found if isinstance(found, dict) else None

    async def put(self, card_key: str, language: str, words: JsonObject, model: str) -> None:
        """Store a rendering; another process's, made at the same time, is as good: the first one stays."""
        insert = self.db.insert(CardWordsRow).values(card_key=card_key, language=language, words=words,
                                                    model=model[:100], created_at=utcnow())
        await self.db.change(insert.on_conflict_do_nothing(index_elements=[CardWordsRow.card_key,
                                                                           CardWordsRow.language]))
