"""person settings: a person's time zone becomes a setting of the person scope (database/person_settings.py)

Revision ID: 0044_person_settings
Revises: 0043_scoped_settings
Create Date: 2026-11-28 00:30:00

``users.timezone`` (0022) moves into ``scoped_settings`` as the person-scope setting ``timezone`` (scope
``person``, scope id the user's id, the zone as JSON), and the column goes: a person's own preferences are
registrations now, like a place's. Down: the column comes back with the zones, and those rows go.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0044_person_settings"
down_revision = "0043_scoped_settings"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
PERSON, KEY = "person", "timezone"

scoped = sa.table("scoped_settings", sa.column("scope", sa.String), sa.column("scope_id", sa.BigInteger),
                  sa.column("key", sa.String), sa.column("value", sa.Text), sa.column("updated_at", TZ))
users = sa.table("users", sa.column("id", sa.BigInteger), sa.column("timezone", sa.String))
theirs = sa.and_(scoped.c.scope == PERSON, scoped.c.key == KEY)


def upgrade() -> None:
    conn = op.get_bind()
    now = datetime.now(UTC)
    rows = [{"scope": PERSON, "scope_id": int(user_id), "key": KEY, "value": json.dumps(str(zone)),
             "updated_at": now}
            for user_id, zone in conn.execute(sa.select(users.c.id, users.c.timezone).where(
                users.c.timezone.is_not(None), users.c.timezone != ""))]
    if rows:
        conn.execute(sa.insert(scoped), rows)
    # A plain DROP COLUMN (SQLite 3.35+), not a batch copy: copying ``users`` drops the old table, and with
    # foreign keys on that cascades to every row that references a person (as in 0022's downgrade).
    op.execute("ALTER TABLE users DROP COLUMN timezone")


def downgrade() -> None:
    op.add_column("users", sa.Column("timezone", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    for user_id, value in conn.execute(sa.select(scoped.c.scope_id, scoped.c.value).where(theirs)).all():
        zone = json.loads(value)
        if isinstance(zone, str) and zone:  # a person forgotten since has no users row: nothing to update
            conn.execute(users.update().where(users.c.id == int(user_id)).values(timezone=zone[:64]))
    conn.execute(sa.delete(scoped).where(theirs))
