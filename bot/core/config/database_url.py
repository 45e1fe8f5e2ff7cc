"""``DATABASE_URL`` as operators write it, turned into the async URL SQLAlchemy needs, or one clear problem.

Kindred talks to its database through asyncio drivers: PostgreSQL through asyncpg, SQLite through
aiosqlite. The usual spellings (``postgres://`` as Heroku and many hosts give it, ``postgresql://``,
``sqlite:///file.db``) mean those drivers; anything else is named as the problem, before Discord is
contacted. Messages never quote the URL itself: it may hold a password.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}
BACKEND_ALIASES = {"postgres": "postgresql", "postgresql": "postgresql", "sqlite": "sqlite"}
EXAMPLES = "postgresql://user:password@host/dbname or sqlite:///data/kindred.db"


def normalize_database_url(value: str) -> str:
    """The URL with its async driver; ValueError saying what is wrong (never quoting the URL)."""
    value = value.strip()
    if not value:
        return ""
    if "://" not in value:
        raise ValueError(f"not a database URL: expected {EXAMPLES}")
    scheme = value.split("://", 1)[0].lower()
    backend, _, driver = scheme.partition("+")
    if backend not in BACKEND_ALIASES:
        raise ValueError(f"Kindred supports PostgreSQL and SQLite, not {scheme!r}: use {EXAMPLES}")
    backend = BACKEND_ALIASES[backend]
    wanted = ASYNC_DRIVERS[backend]
    if driver and f"{backend}+{driver}" != wanted:
        raise ValueError(f"{scheme}:// names the {driver} driver, but Kindred talks to {backend} through "
                         f"{wanted.partition('+')[2]} only: write {backend}://... (meaning {wanted}://...)")
    rest = value.split("://", 1)[1]
    try:
        url: URL = make_url(f"{wanted}://{rest}")
    except (ArgumentError, ValueError):
        raise ValueError(f"cannot be read as a database URL: expected {EXAMPLES}") from None
    if backend == "sqlite" and not url.database:
        raise ValueError("names no database file (an in-memory database would lose everything at each "
                         "restart): write sqlite:///path/to/file.db")
    return url.render_as_string(hide_password=False)
