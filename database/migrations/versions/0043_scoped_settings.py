"""scoped settings: one table of registered settings per scope (activation, switches, /settings)

Revision ID: 0043_scoped_settings
Revises: 0042_fact_gloss
Create Date: 2026-11-27 21:50:00

``scoped_settings``: a row per (scope, scope id, key) an admin set, the value as JSON
(database/place_config.py). The rows of ``place_settings`` (key ``active``), ``place_switches`` (a key per
switch) and ``server_settings`` (a key per column set) move into it and those tables go. A server's
``proactive`` was both a /settings column and a switch, the switch read first: one key now, the switch's
value where both were set. A later setting is a registration, not a migration.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0043_scoped_settings"
down_revision = "0042_fact_gloss"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
SERVER_COLUMNS: dict[str, sa.types.TypeEngine[Any]] = {
    "reply_mode": sa.String(length=16),
    "vote_count": sa.Integer(),
    "proactive": sa.Boolean(),
    "memory_consent": sa.String(length=16),
    "log_channel_id": sa.BigInteger(),
    "language": sa.String(length=60),
    "staff_role_id": sa.BigInteger(),
    "ticket_channel_id": sa.BigInteger(),
    "allowed_users": sa.Text(),
    "blocked_users": sa.Text(),
    "allowed_roles": sa.Text(),
    "blocked_roles": sa.Text(),
}
SCOPE_OF = {"guild": "server", "channel": "channel"}
PLACE_TYPE_OF = {"server": "guild", "channel": "channel"}

scoped = sa.table("scoped_settings", sa.column("scope", sa.String), sa.column("scope_id", sa.BigInteger),
                  sa.column("key", sa.String), sa.column("value", sa.Text), sa.column("updated_at", TZ))
places = sa.table("place_settings", sa.column("place_type", sa.String), sa.column("place_id", sa.BigInteger),
                  sa.column("active", sa.Boolean), sa.column("updated_at", TZ))
switches = sa.table("place_switches", sa.column("place_type", sa.String),
                    sa.column("place_id", sa.BigInteger), sa.column("switch", sa.String),
                    sa.column("enabled", sa.Boolean), sa.column("updated_at", TZ))
servers = sa.table("server_settings", sa.column("guild_id", sa.BigInteger), sa.column("updated_at", TZ),
                   *(sa.column(name, kind) for name, kind in SERVER_COLUMNS.items()))


def _stamp(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.now(UTC)


def _insert(table: sa.TableClause, rows: Iterable[dict[str, Any]]) -> None:
    batch = list(rows)
    if batch:
        op.get_bind().execute(sa.insert(table), batch)


def upgrade() -> None:
    op.create_table(
        "scoped_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoped_settings")),
        sa.UniqueConstraint("scope", "scope_id", "key", name=op.f("uq_scoped_settings_scope")),
    )
    conn = op.get_bind()
    moved: dict[tuple[str, int, str], tuple[object, datetime]] = {}
    for row in conn.execute(sa.select(servers)).mappings():
        for name in SERVER_COLUMNS:
            if row[name] is not None:
                moved[("server", int(row["guild_id"]), name)] = (row[name], _stamp(row["updated_at"]))
    for row in conn.execute(sa.select(places)).mappings():
        moved[(SCOPE_OF[row["place_type"]], int(row["place_id"]), "active")] = (
            bool(row["active"]), _stamp(row["updated_at"]))
    for row in conn.execute(sa.select(switches)).mappings():  # a switch wins over the /settings column
        moved[(SCOPE_OF[row["place_type"]], int(row["place_id"]), str(row["switch"]))] = (
            bool(row["enabled"]), _stamp(row["updated_at"]))
    _insert(scoped, ({"scope": scope, "scope_id": scope_id, "key": key, "value": json.dumps(value),
                      "updated_at": stamp} for (scope, scope_id, key), (value, stamp) in moved.items()))
    op.drop_table("place_settings")
    op.drop_table("place_switches")
    op.drop_table("server_settings")


def downgrade() -> None:
    op.create_table(
        "place_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_type", sa.String(length=16), nullable=False),
        sa.Column("place_id", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_settings")),
        sa.UniqueConstraint("place_type", "place_id", name=op.f("uq_place_settings_place_type")),
    )
    op.create_table(
        "place_switches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_type", sa.String(length=16), nullable=False),
        sa.Column("place_id", sa.BigInteger(), nullable=False),
        sa.Column("switch", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_switches")),
        sa.UniqueConstraint("place_type", "place_id", "switch", name=op.f("uq_place_switches_place_type")),
    )
    op.create_table(
        "server_settings",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        *(sa.Column(name, kind, nullable=True) for name, kind in SERVER_COLUMNS.items()),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_server_settings")),
    )
    conn = op.get_bind()
    place_rows, switch_rows = [], []
    server_rows: dict[int, dict[str, Any]] = {}
    for row in conn.execute(sa.select(scoped)).mappings():
        value, stamp = json.loads(row["value"]), _stamp(row["updated_at"])
        place_type, place_id, key = PLACE_TYPE_OF.get(row["scope"]), int(row["scope_id"]), str(row["key"])
        if place_type is None:  # a scope those tables had no room for
            continue
        if key == "active":
            place_rows.append({"place_type": place_type, "place_id": place_id, "active": bool(value),
                               "updated_at": stamp})
        elif place_type == "guild" and key in SERVER_COLUMNS and key != "proactive":
            server = server_rows.setdefault(place_id, {"guild_id": place_id, "updated_at": stamp,
                                                       **dict.fromkeys(SERVER_COLUMNS)})
            server[key], server["updated_at"] = value, max(server["updated_at"], stamp)
        elif isinstance(value, bool) and len(key) <= 32:  # a switch (a server's proactive read as one)
            switch_rows.append({"place_type": place_type, "place_id": place_id, "switch": key,
                                "enabled": value, "updated_at": stamp})
    _insert(places, place_rows)
    _insert(switches, switch_rows)
    _insert(servers, server_rows.values())
    op.drop_table("scoped_settings")
