"""fact slots: the slot a fact fills, as the extraction model named it, in any language

Revision ID: 0034_fact_slots
Revises: 0033_relationship_since
Create Date: 2026-11-28 10:00:00

One truth per fact: a new fact of a slot (where they live, their work, a pet's name...) closes the known fact
of that slot. The slot was read from English cues ("lives in", "moved to"), so "me mudé a York" never closed
"vivo en Leeds". The extraction now names each fact's slot itself (memory/slots.py): ``user_facts.slot``
keeps it ("home", "?home" for a hedged one, "pet_name:cat"; "" for none) and ``slot_value`` the value it
gives the slot ("York"), so a later fact in another wording, or another language, is weighed against it.
NULL for the facts already there: the English cues decide for them, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034_fact_slots"
down_revision = "0033_relationship_since"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, nullable: no table rebuild on SQLite, no rewrite on PostgreSQL.
    op.add_column("user_facts", sa.Column("slot", sa.String(80), nullable=True))
    op.add_column("user_facts", sa.Column("slot_value", sa.Text(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), as 0028 does, not a batch copy of the table.
    op.execute("ALTER TABLE user_facts DROP COLUMN slot_value")
    op.execute("ALTER TABLE user_facts DROP COLUMN slot")
