"""facts keep when they were said and happened, and whether they last; expiry counts from the last interaction

Revision ID: 0012_fact_time_and_lasting
Revises: 0011_reply_owed
Create Date: 2026-11-24 10:00:00

``user_facts.lasting`` (never expires), ``said_at`` and ``happened_at``; ``users.last_interaction`` (the
person's last reply from a character: unpinned, non-lasting facts expire ``fact_expiry_days`` after it).

Existing rows are carried over: a fact was said when it was first mentioned; facts of the kinds extraction
now marks lasting (personal, relationships, preferences, plans) become lasting; a person's last interaction
starts as when they were last seen.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_fact_time_and_lasting"
down_revision = "0011_reply_owed"
branch_labels = None
depends_on = None

LASTING_CATEGORIES = ("personal", "relationships", "preferences", "plans")


def upgrade() -> None:
    with op.batch_alter_table("user_facts") as batch:
        batch.add_column(sa.Column("lasting", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("said_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("happened_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("last_interaction", sa.DateTime(timezone=True), nullable=True))
    facts = sa.table("user_facts", sa.column("category", sa.String), sa.column("lasting", sa.Boolean),
                     sa.column("said_at", sa.DateTime(timezone=True)),
                     sa.column("first_mentioned", sa.DateTime(timezone=True)))
    users = sa.table("users", sa.column("last_interaction", sa.DateTime(timezone=True)),
                     sa.column("last_seen", sa.DateTime(timezone=True)))
    op.execute(facts.update().values(said_at=facts.c.first_mentioned))
    op.execute(facts.update().where(facts.c.category.in_(LASTING_CATEGORIES)).values(lasting=sa.true()))
    op.execute(users.update().values(last_interaction=users.c.last_seen))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_interaction")
    with op.batch_alter_table("user_facts") as batch:
        batch.drop_column("happened_at")
        batch.drop_column("said_at")
        batch.drop_column("lasting")
