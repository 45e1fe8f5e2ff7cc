"""fact gloss: a fact kept in another language carries its English wording, for the English embedding model

Revision ID: 0042_fact_gloss
Revises: 0041_mcp_servers
Create Date: 2026-11-27 16:30:00

``user_facts.gloss``: the fact in English where the extraction kept it in the person's own language (NULL:
written in English, or from before); what the English half of the paired embedding reads of it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0042_fact_gloss"
down_revision = "0041_mcp_servers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("user_facts", sa.Column("gloss", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_facts") as batch:
        batch.drop_column("gloss")
