"""why a core-memory version was kept, as a code and its detail

Revision ID: 0048_version_reason_codes
Revises: 0047_settings_change_triggers
Create Date: 2026-11-30 09:40:00

A version's ``reason`` was a sentence in English ("before add (summary)", "summarization of channel:12"),
which every reader then had to take apart to say it in its own language. It is now a code
(database/records.py ``Archived``) with its detail in ``reason_detail``; the rows kept before are rewritten
so. A reason of no known form (none was written) stays as it is, with no detail, and is shown as stored.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0048_version_reason_codes"
down_revision = "0047_settings_change_triggers"
branch_labels = None
depends_on = None

# The forms the reasons were written in, and the code (and detail) each becomes.
FIXED = {"before edit": "edited", "before delete": "deleted", "facts changed": "facts_changed"}
WITH_DETAIL = (
    (re.compile(r"before add \((?P<detail>[^)]*)\)"), "added"),
    (re.compile(r"before restore of version (?P<detail>\d+)"), "restored"),
    (re.compile(r"summarization of (?P<detail>\S+)"), "summarized"),
)
VERSIONS = sa.table("core_memory_versions", sa.column("id", sa.Integer), sa.column("reason", sa.String),
                    sa.column("reason_detail", sa.String))


def coded(reason: str) -> tuple[str, str] | None:
    """The code and detail of an old reason; None for one of no known form."""
    if reason in FIXED:
        return FIXED[reason], ""
    for form, code in WITH_DETAIL:
        if (found := form.fullmatch(reason)) is not None:
            return code, found["detail"]
    return None


def upgrade() -> None:
    op.add_column("core_memory_versions",
                  sa.Column("reason_detail", sa.String(length=120), nullable=False, server_default=""))
    bind = op.get_bind()
    for reason, in bind.execute(sa.select(VERSIONS.c.reason).distinct()).all():
        new = coded(reason or "")
        if new is not None:
            bind.execute(sa.update(VERSIONS).where(VERSIONS.c.reason == reason)
                         .values(reason=new[0], reason_detail=new[1]))


def downgrade() -> None:
    bind = op.get_bind()
    old = {code: text for text, code in FIXED.items()}
    says = {"added": "before add ({})", "restored": "before restore of version {}",
            "summarized": "summarization of {}"}
    rows = bind.execute(sa.select(VERSIONS.c.reason, VERSIONS.c.reason_detail).distinct()).all()
    for code, detail in rows:
        text = old.get(code) or (says[code].format(detail) if code in says else None)
        if text is not None:
            bind.execute(sa.update(VERSIONS)
                         .where(VERSIONS.c.reason == code, VERSIONS.c.reason_detail == detail)
                         .values(reason=text))
    with op.batch_alter_table("core_memory_versions") as batch:
        batch.drop_column("reason_detail")
