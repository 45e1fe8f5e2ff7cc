"""embedding model: the model each stored vector came from

Revision ID: 0035_embedding_model
Revises: 0034_fact_slots
Create Date: 2026-11-27 08:00:00

``user_facts.embedding_model`` and ``archive_excerpts.embedding_model``: the model (memory/embeddings.py
``model_id``) a row's vector came from. Two models' vectors are never compared, whatever their dimension: a
vector of another model than the running one reads as none until it is re-embedded (memory/reembed.py).
NULL for the rows already there: they were embedded by the model shipped until then, all-MiniLM-L6-v2
(database/vectors.py ``DEFAULT_EMBEDDING_MODEL``), so no row is rewritten here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035_embedding_model"
down_revision = "0034_fact_slots"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, nullable: no table rebuild on SQLite, no rewrite on PostgreSQL.
    op.add_column("user_facts", sa.Column("embedding_model", sa.String(100), nullable=True))
    op.add_column("archive_excerpts", sa.Column("embedding_model", sa.String(100), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), as 0033 does, not a batch copy of the table.
    op.execute("ALTER TABLE archive_excerpts DROP COLUMN embedding_model")
    op.execute("ALTER TABLE user_facts DROP COLUMN embedding_model")
