"""server tools: per-server settings, warnings, moderation log, polls and votes, tickets and transcripts

Revision ID: 0005_server_tools
Revises: 0004_history_revision
Create Date: 2026-11-26 10:00:00

``server_settings``: one row per server that changed a setting; NULL columns fall back to the global
settings. ``warnings`` and ``moderation_actions``: the server's moderation record. ``polls`` and
``poll_votes``: button polls, whose closing timers are rebuilt from these rows at start-up. ``tickets`` and
``ticket_messages``: support threads and the transcripts archived when they close.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_server_tools"
down_revision = "0004_history_revision"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "server_settings",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reply_mode", sa.String(length=16), nullable=True),
        sa.Column("vote_count", sa.Integer(), nullable=True),
        sa.Column("proactive", sa.Boolean(), nullable=True),
        sa.Column("memory_consent", sa.String(length=16), nullable=True),
        sa.Column("log_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("language", sa.String(length=60), nullable=True),
        sa.Column("staff_role_id", sa.BigInteger(), nullable=True),
        sa.Column("ticket_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_server_settings")),
    )
    op.create_table(
        "warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("moderator_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warnings")),
    )
    op.create_index("ix_warnings_guild_id_target_id", "warnings", ["guild_id", "target_id"])
    op.create_table(
        "moderation_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=True),
        sa.Column("moderator_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_actions")),
    )
    op.create_index("ix_moderation_actions_guild_id_id", "moderation_actions", ["guild_id", "id"])
    op.create_table(
        "polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("closes_at", TZ, nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polls")),
    )
    op.create_index("ix_polls_closed_closes_at", "polls", ["closed", "closes_at"])
    op.create_table(
        "poll_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("option", sa.Integer(), nullable=False),
        sa.Column("voted_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_votes_poll_id_polls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_votes")),
        sa.UniqueConstraint("poll_id", "user_id", name=op.f("uq_poll_votes_poll_id")),
    )
    op.create_index(op.f("ix_poll_votes_user_id"), "poll_votes", ["user_id"])
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("opener_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("closed_by", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index("ix_tickets_thread_id", "tickets", ["thread_id"])
    op.create_table(
        "ticket_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("author_name", sa.String(length=100), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_messages_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_messages")),
    )
    op.create_index("ix_ticket_messages_ticket_id_id", "ticket_messages", ["ticket_id", "id"])
    op.create_index(op.f("ix_ticket_messages_author_id"), "ticket_messages", ["author_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_messages_author_id"), table_name="ticket_messages")
    op.drop_index("ix_ticket_messages_ticket_id_id", table_name="ticket_messages")
    op.drop_table("ticket_messages")
    op.drop_index("ix_tickets_thread_id", table_name="tickets")
    op.drop_table("tickets")
    op.drop_index(op.f("ix_poll_votes_user_id"), table_name="poll_votes")
    op.drop_table("poll_votes")
    op.drop_index("ix_polls_closed_closes_at", table_name="polls")
    op.drop_table("polls")
    op.drop_index("ix_moderation_actions_guild_id_id", table_name="moderation_actions")
    op.drop_table("moderation_actions")
    op.drop_index("ix_warnings_guild_id_target_id", table_name="warnings")
    op.drop_table("warnings")
    op.drop_table("server_settings")
