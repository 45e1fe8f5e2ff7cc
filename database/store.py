"""The single entry point to Kindred's data: :class:`Store` opens the database and exposes one repository
per domain (``store.conversations``, ``store.facts``, ...).

Cogs, the reply engine, memory jobs and the console never write SQL themselves; each repository module in
this package holds the statements of its domain, and every one of them runs through ``Database.run``
(database/engine.py). A new table gets a model in models.py, a migration in migrations/versions/ and a
repository module here, attached below.
"""

from __future__ import annotations

from functools import partial

from sqlalchemy.engine import Dialect

from database.boundary import Statements
from database.card_words import CardWordRows
from database.characters import Characters
from database.checkins import CheckIns
from database.cluster import ClusterLink, ClusterNodes, SharedCounts, SharedWindows
from database.consolidation import ConsolidationLog
from database.conversations import Conversations
from database.engine import CHECKPOINT_SECONDS, Database
from database.excerpts import Excerpts
from database.export import PersonExport
from database.facts import Facts
from database.feelings import FeelingRows
from database.identity import Identity
from database.log import MessageLog
from database.mcp import McpServers
from database.memories import Memories
from database.moderation import Moderation
from database.owed import OwedReplies, owed_statements
from database.people import People
from database.personaflow import PersonaFlowRows
from database.place_config import PlaceConfig
from database.places import Places
from database.privacy import Privacy
from database.profiles import Profiles
from database.refreshing import CacheChanges
from database.reminders import Reminders
from database.retention import Retention
from database.servers import Servers
from database.spending import Spending
from database.stamps import stamp_statements
from database.state import State
from database.statements import build_statements, warm_statements
from database.stats import Stats
from database.style import StyleProfiles
from database.swipes import Swipes
from database.switches import PlaceSwitches
from database.talk_threads import TalkThreads
from database.threads import Threads
from database.tickets import Tickets
from database.timers import TimerRows
from database.usage import UsageLog


def hot_statements(dialect: Dialect) -> Statements:
    """The hot path's statements (each message's log write, a reply's prompt read, the owed marks and the
    memory stamps), built for ``dialect``: the set the store's repositories share."""
    return build_statements(dialect) | owed_statements(dialect) | stamp_statements(dialect)


class Store:
    def __init__(self, url: str, *, retry_seconds: float = 30.0, busy_timeout: float = 10.0,
                 checkpoint_seconds: float = CHECKPOINT_SECONDS) -> None:
        """``checkpoint_seconds``: how often SQLite's write-ahead log is copied back into the database file
        (database/engine.py); commits never do it themselves."""
        self.db = Database(url, retry_seconds=retry_seconds, busy_timeout=busy_timeout,
                           checkpoint_seconds=checkpoint_seconds)
        self.url = url
        self.engine = self.db.engine
        self.dialect = self.db.dialect
        self.closed = False
        # The hot path's statements, built once for the dialect of the engine that runs them.
        dialect = self.db.statement_dialect
        q = hot_statements(dialect)
        self.db.warm_up = partial(warm_statements, q)  # on the connections opened at start-up
        # What this process changed in the cached tables below, for the cluster to tell the others.
        self.changes = CacheChanges()
        # Every per-place and per-person setting (activation, switches, a server's /settings, a person's
        # time zone): database/place_config.py.
        self.config = PlaceConfig(self.db, self.changes)
        self.conversations = Conversations(self.db, q)
        conversations = self.conversations
        self.log = MessageLog(self.db, q, conversations.read_prompt, conversations.read_prompt_beside)
        self.consolidation = ConsolidationLog(self.db)
        self.memories = Memories(self.db)
        self.facts = Facts(self.db, q)
        self.threads = Threads(self.db)  # what people said they would do or are waiting for
        self.excerpts = Excerpts(self.db, q)  # episodic recall's archive index
        self.people = People(self.db, q, self.config)
        self.identity = Identity(self.db)
        self.characters = Characters(self.db, q)
        self.card_words = CardWordRows(self.db)  # the first look's cards' words in other languages
        self.state = State(self.db, q)
        self.places = Places(self.config)
        self.usage = UsageLog(self.db, q)
        self.spending = Spending(self.db)  # today's spend, for the spending limits
        self.personaflow = PersonaFlowRows(self.db)
        self.stats = Stats(self.db)
        self.retention = Retention(self.db)  # old usage rows added up per day, old archive deleted
        self.privacy = Privacy(self.db, self.log, self.conversations, self.config)
        self.export = PersonExport(self.db)  # a person's own rows, returned to them (/export_me)
        # Server tools (issue 13): per-server settings, moderation record, tickets (a feature's own rows are
        # its own repository's, built by it from ``db``: bot/features/polls/).
        self.servers = Servers(self.config)
        self.moderation = Moderation(self.db)
        self.tickets = Tickets(self.db)
        # Durable timers (rounds, a reminder's delivery); alive between messages: per-place switches, writing
        # styles, check-ins, feelings toward each person and in each channel.
        self.timers = TimerRows(self.db)
        self.swipes = Swipes(self.db, conversations.history_changed)  # a reply's alternatives on its message
        self.switches = PlaceSwitches(self.config)
        self.talk_threads = TalkThreads(self.db)  # threads a character opened to go on talking (/bot threads)
        self.style = StyleProfiles(self.db, q)
        self.checkins = CheckIns(self.db)
        # what people asked to be reminded of (bot/features/reminders/book.py)
        self.reminders = Reminders(self.db, self.config)
        self.feelings = FeelingRows(self.db)
        self.profiles = Profiles(self.db)  # what people said of themselves with /me
        self.mcp = McpServers(self.db)  # the MCP servers each server's admins added (bot/features/mcp/)
        # A cluster of processes on one PostgreSQL: their rows (the link is each process's own session).
        self.cluster = ClusterNodes(self.db)
        # Replies owed (issue 14): what a crash left unanswered is answered at the next start-up.
        self.owed = OwedReplies(self.db, q)

    def cluster_link(self) -> ClusterLink | None:
        """A new session for the leader lock and the cluster's signals; None on SQLite (one process)."""
        return None if self.db.is_sqlite else ClusterLink(self.url)

    def shared_windows(self) -> SharedWindows | None:
        """Windows of time held for every process of the database (Discord's IDENTIFY window per bucket);
        None on SQLite (one process)."""
        return None if self.db.is_sqlite else SharedWindows(self.url)

    def shared_counts(self) -> SharedCounts | None:
        """Counts kept together by every process of the database (Discord's REST limits, the bot's);
        None on SQLite (one process)."""
        return None if self.db.is_sqlite else SharedCounts(self.url)

    async def open(self) -> Store:
        """Bring the schema to the newest migration (Alembic) so an upgrade of Kindred upgrades the data."""
        await self.db.open()
        return self

    async def close(self) -> None:
        if self.db.closed:  # closed already (a second close: the launcher's and a test's)
            self.closed = True
            return
        await self.log.flush()
        await self.config.drain()
        await self.db.close()
        self.closed = True  # every pooled connection released (what shutdown reports)
