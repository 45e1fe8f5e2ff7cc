"""card words: the first look's renderings of a card's words in the languages its servers speak

Revision ID: 0036_card_words
Revises: 0035_embedding_model
Create Date: 2026-11-27 11:00:00

``card_words``: one row per (hash of a card's text, language), the card's interest vocabulary as the voting
model rendered it in that language (bot/reply/deciding/cardwords.py). Written once, read by every process;
an edited card has a new hash and is rendered anew.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036_card_words"
down_revision = "0035_embedding_model"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_words",
        sa.Column("card_key", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("card_key", "language", name=op.f("pk_card_words")),
    )


def downgrade() -> None:
    op.drop_table("card_words")
