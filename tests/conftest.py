"""Shared fixtures: database backends (SQLite always, PostgreSQL when TEST_DATABASE_URL is set) and the
over-the-wire harness (fake Discord + fake Claude + a real Kindred bot).

The suite runs in parallel (pytest-xdist, `make test`): every worker has its own temp folder (SQLite files),
its own PostgreSQL databases, named after the worker, and a schema migrated once per worker that each test
starts from as a copy (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL) instead of
migrating from nothing again. The first migration of each worker still runs from an empty database.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

import bot.features  # noqa: F401  (every feature's settings section registers, as in a real run's settings)
from bot.core.config import PROJECT_ROOT
from database.store import Store
from tests.checkout_guard import checkout_changes, checkout_files

# Console mode logs to logs/console.log in the checkout by default: every `main.py --console` a test starts
# (they pass os.environ on) logs to a temp folder instead. The checkout guard below fails a run that writes
# there anyway.
_LOGS = Path(tempfile.mkdtemp(prefix="kindred-test-logs-"))
atexit.register(shutil.rmtree, _LOGS, ignore_errors=True)
os.environ.setdefault("CONSOLE_LOG_FILE", str(_LOGS / "console.log"))

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """The loop the in-process tests run on: the standard library's, or with KINDRED_TEST_LOOP=uvloop the one
    main.py runs the bot on by default (``event_loop``). The tests that start main.py itself (a SIGTERM
    while a reply is in flight, crash recovery, the cluster) run it on uvloop either way."""
    from bot.runtime.lifecycle import loop_factory

    name = os.environ.get("KINDRED_TEST_LOOP", "asyncio")
    return {name: loop_factory(name) or asyncio.new_event_loop}


async def _admin_sql(url: str, sql: str) -> None:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username or "postgres",
        password=u.password,
        database=u.database or "postgres",
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run_in_thread(url: str, sql: str) -> None:
    # Session fixtures may be first requested from inside a running event loop: use a loop of our own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _admin_sql(url, sql)).result()


def _worker() -> str:
    """This xdist worker's name (gw0, gw1...), or "main" without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _migrate(url: str) -> None:
    async def once() -> None:
        store = await Store(url).open()
        await store.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, once()).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest schema, once per worker: each test copies it."""
    path = tmp_path_factory.mktemp("template") / "kindred.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_names() -> Iterator[tuple[str, str]]:
    """(test database, migrated template) private to this worker and session, so parallel workers and
    parallel runs never trample each other."""
    base = os.environ["TEST_DATABASE_URL"]
    tag = f"{_worker()}_{uuid.uuid4().hex[:8]}"
    name, template = f"kindred_test_{tag}", f"kindred_tpl_{tag}"
    _run_in_thread(base, f'CREATE DATABASE "{template}"')
    try:
        _migrate(make_url(base).set(database=template).render_as_string(hide_password=False))
        _run_in_thread(base, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        yield name, template
    finally:
        for db in (name, template):
            _run_in_thread(base, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url(postgres_names: tuple[str, str]) -> str:
    """This worker's test database (emptied, or made again from the template, by each test using db_url)."""
    return make_url(os.environ["TEST_DATABASE_URL"]).set(database=postgres_names[0]).render_as_string(
        hide_password=False)


async def _empty_postgres(url: str, template_url: str) -> bool:
    """Delete every row and restart every sequence, when the schema is still the template's (tables and
    Alembic version): milliseconds, where a new database from the template takes a second or more of
    file copies and fsyncs. Sessions a test left behind are ended first. False when the schema differs (a
    test dropped or changed it) or a lock held by a connection a test left behind does not let go."""
    import asyncpg

    async def connect(address: str) -> asyncpg.Connection:
        u = make_url(address)
        return await asyncpg.connect(host=u.host or "127.0.0.1", port=u.port or 5432,
                                     user=u.username or "postgres", password=u.password, database=u.database)

    shape = ("SELECT (SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
             "WHERE schemaname = 'public'), (SELECT string_agg(version_num, ',') FROM alembic_version)")
    template = await connect(template_url)
    try:
        wanted = tuple(await template.fetchrow(shape))
        sequences = [r[0] for r in await template.fetch(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")]
    finally:
        await template.close()
    conn = await connect(url)
    try:
        try:
            if tuple(await conn.fetchrow(shape)) != wanted:
                return False
        except asyncpg.PostgresError:  # no alembic_version: the schema was dropped
            return False
        # A session an earlier test left (a killed main.py's, still ending) may hold the cluster's leader
        # lock, an advisory lock no DELETE waits for: the next bot would not lead, nor sync its commands,
        # until it let go. Ended here, waiting for each to be gone.
        others = ("FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                  "AND backend_type = 'client backend'")
        await conn.execute(f"SELECT pg_terminate_backend(pid, 10000) {others}")
        if await conn.fetchval(f"SELECT count(*) {others}"):
            return False
        tables = [t for t in str(wanted[0]).split(",") if t != "alembic_version"]
        # replica: no foreign-key or trigger work while every table is emptied anyway.
        sql = ("SET lock_timeout = '5s'; SET session_replication_role = replica; "
               + "".join(f'DELETE FROM "{t}"; ' for t in tables)
               + "".join(f"SELECT setval('\"{q}\"', 1, false); " for q in sequences))
        try:
            async with conn.transaction():
                await conn.execute(sql)
        except asyncpg.PostgresError:
            return False
        return True
    finally:
        await conn.close()


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database URL on each backend: its schema migrated to the newest version, and empty."""
    if request.param == "sqlite":
        path = tmp_path / "kindred.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    name, template = request.getfixturevalue("postgres_names")
    base = os.environ["TEST_DATABASE_URL"]
    template_url = make_url(base).set(database=template).render_as_string(hide_password=False)
    if not await _empty_postgres(url, template_url):
        # FORCE: a connection a test left behind (a killed child process's) must not keep the old one.
        await _admin_sql(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await _admin_sql(base, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield url


@pytest.fixture(params=[True, False], ids=["dave", "no-dave"])
def dave(request: pytest.FixtureRequest) -> bool:
    """A voice call under DAVE (Discord's end-to-end encryption of a call's audio) or protocol version 0."""
    return bool(request.param)


def paired_away(params: dict[str, Any]) -> bool:
    """Whether a voice test's case is one the pairing below leaves out: DAVE (how a call's audio is framed
    on the wire) and the database (where what was said is kept) touch no common code, so with both backends
    a voice test runs under DAVE on SQLite and without it on PostgreSQL, each way and each database once,
    not all four combinations. With SQLite alone it runs both ways there."""
    if "dave" not in params or "db_url" not in params or len(BACKENDS) < 2:
        return False
    return bool(params["dave"]) != (params["db_url"] == "sqlite")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept: list[pytest.Item] = []
    away: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        (away if callspec is not None and paired_away(callspec.params) else kept).append(item)
    if away:
        config.hook.pytest_deselected(items=away)
        items[:] = kept


@pytest.fixture
def sqlite_db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh migrated SQLite database only: for tests of how main.py behaves as a process (the console,
    the folder it runs from), whose database work the in-process tests prove on both backends. Each main.py
    start costs seconds of CPU, so these run once, not once per backend."""
    path = tmp_path / "kindred.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await Store(db_url).open()
    try:
        yield s
    finally:
        await s.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fake_claude(min_cache_tokens=, api_key=, consolidating=): how a "
                            "module's fake_claude fixture is made (a module's ``pytestmark``)")


@pytest.fixture
async def fake_claude(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A fake Claude API on a port of its own: the documented per-model cache minimums, any key accepted,
    unless the module's ``pytest.mark.fake_claude(...)`` says otherwise (``min_cache_tokens=0``: prompts of
    a few words cache too; ``api_key=``: any other key gets 401; ``consolidating=True``: answers extraction
    and mood requests as tests/memory_support.py's consolidation_responder)."""
    from tests.fakes.claude_server import FakeClaude
    from tests.memory_support import consolidation_responder

    marker = request.node.get_closest_marker("fake_claude")
    options = dict(marker.kwargs) if marker is not None else {}
    consolidating = options.pop("consolidating", False)
    async with FakeClaude(**options) as fake:
        if consolidating:
            fake.responder = consolidation_responder()
        yield fake


@pytest.fixture
async def fake_openai() -> AsyncIterator[Any]:
    """A fake OpenAI-compatible server on a port of its own."""
    from tests.fakes.openai_server import FakeOpenAI

    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def make_harness(db_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Factory: ``h = await make_harness(yes_no_vote_count="5")`` starts a bot with those settings
    (``character_dir=`` plays another character folder)."""
    from tests.harness import Harness

    started: list[Harness] = []

    async def factory(*, character_dir: Path | None = None, **config: Any) -> Harness:
        h = Harness(db_url=db_url, tmp_path=tmp_path, config=config, character_dir=character_dir)
        await h.start()
        started.append(h)
        return h

    try:
        yield factory
    finally:
        for h in started:
            await h.close()


@pytest.fixture
async def harness(make_harness: Callable[..., Awaitable[Any]]) -> Any:
    return await make_harness()


# --------------------------------------------------------------------------- the user's checkout is not ours


def pytest_sessionstart(session: pytest.Session) -> None:
    # Once, in the process that runs the whole session (the xdist controller, or pytest alone): a worker's
    # session starts after the others may have begun writing.
    if "PYTEST_XDIST_WORKER" not in os.environ:
        session.config.stash[_CHECKOUT] = checkout_files(PROJECT_ROOT)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test wrote into, or changed, the user's checkout (logs/, data/, characters/...):
    tests write to temp folders only."""
    before = session.config.stash.get(_CHECKOUT, None)
    if before is None:
        return
    changed = checkout_changes(before, checkout_files(PROJECT_ROOT))
    if changed:
        line = "the tests changed the checkout (tests write to temp folders only): " + ", ".join(changed[:20])
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(line, red=True)
        else:
            print(line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_CHECKOUT = pytest.StashKey[dict[str, tuple[int, int]]]()
