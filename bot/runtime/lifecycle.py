"""Running the bot as a service: SIGTERM (how systemd and Docker stop it) and SIGINT (Ctrl-C) stop it the way
the log channel's ``shutdown?`` does.

On the first signal the bot takes no new messages, replies in flight get ``shutdown_grace_seconds`` to
finish and be saved, then the dashboard, Discord, the model and voice clients and the database close
(the bot's ``close`` in bot/discord/client.py), and ``main.py`` exits 0. A second signal while stopping is
logged and changes nothing: the close already under way is the fastest safe way out.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Protocol, Self

from database.store import Store

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Middle-generation collections per full one (Python's default: 10). A full collection walks every object
# alive: when replies queue up on a busy server that is the whole backlog, about 0.17 s each. Measured at 500
# replies a second (bench_load, 20 s, SQLite): 22 full collections and 3.8 s of CPU (0.38 ms a message) with
# the default, 3 and 0.54 s with 100; young and middle collections are left as they are (short pauses).
FULL_COLLECTION_EVERY = 100


class Service(Protocol):
    """What :func:`serve` needs of the Discord client (bot/discord/client.py): an async context manager whose
    exit awaits its one close."""

    async def start(self, token: str) -> None: ...

    async def close(self) -> None: ...

    def is_closed(self) -> bool: ...

    @property
    def database_closed(self) -> bool: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


Step = Callable[[], Coroutine[object, object, None]]


class Closing:
    """What the features' Discord sides let go of when the bot closes, connected by their cogs as they load:
    ``first`` while the gateway is still up, before the replies in flight are waited for (a voice call left:
    what the character is saying stops at once, rather than hold the grace period); ``last`` once the model
    client is closed (a feature's own clients). Each runs in the order connected."""

    def __init__(self) -> None:
        self.first: tuple[Step, ...] = ()
        self.last: tuple[Step, ...] = ()

    def connect(self, *, first: Step | None = None, last: Step | None = None) -> None:
        if first is not None:
            self.first = (*self.first, first)
        if last is not None:
            self.last = (*self.last, last)

    async def let_go(self) -> None:
        for step in self.first:
            await step()

    async def close(self) -> None:
        for step in self.last:
            await step()


class InFlight:
    """The work a graceful stop lets finish: each message's handling (bot/discord/flow.py) and the answering
    of replies a crash left owed. One per bot, given at construction to the flow and to what stops the bot
    (its close, the log channel's ``shutdown?``). ``with in_flight:`` counts the current task as in flight
    until the block ends."""

    def __init__(self) -> None:
        self._tasks: dict[asyncio.Task[object], int] = {}  # a task in flight -> its blocks open (nesting)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def __len__(self) -> int:
        """Messages being handled now (the metrics' queue depth)."""
        return len(self._tasks)

    def __enter__(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks[task] = self._tasks.get(task, 0) + 1

    def __exit__(self, *exc_info: object) -> None:
        task = asyncio.current_task()
        if task is not None:
            left = self._tasks.pop(task, 1) - 1
            if left:
                self._tasks[task] = left

    async def drain(self) -> None:
        """Until the work in flight now has finished (or was cancelled)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel(self) -> None:
        """Cancel the work in flight (what did not finish in the grace period; :meth:`drain` then waits for
        it to release what it holds)."""
        for task in list(self._tasks):
            task.cancel()


async def serve(bot: Service, token: str, *, grace_seconds: float) -> None:
    """Log in, run until closed (by a signal, ``shutdown?`` or a fatal error), close everything."""
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Future[None]] = []  # the close a signal began (kept, so it is not collected)

    def on_signal(sig: signal.Signals) -> None:
        if closing or bot.is_closed():
            log.info("%s received again: already stopping", sig.name)
            return
        log.info("%s received: taking no new messages, finishing replies in flight (up to %gs), then closing",
                 sig.name, grace_seconds)
        closing.append(asyncio.ensure_future(bot.close()))

    installed = []
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows' loops have none: Ctrl-C works as before
            pass
    try:
        async with bot:  # its exit awaits the one close, whoever began it
            await bot.start(token)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    if closing:
        await closing[0]  # surfaces a failed close (a traceback and exit 1 rather than a false success)
        if bot.is_closed() and bot.database_closed:
            log.info("stopped cleanly: Discord connection and database closed")
        else:
            log.error("stop incomplete: Discord connection %s, database %s",
                      "closed" if bot.is_closed() else "still open",
                      "closed" if bot.database_closed else "still open")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop the bot runs on (``event_loop``): uvloop's, when asked for and installed (it is not on
    Windows), else None, asyncio's own. uvloop is libuv's loop written in Cython: the same asyncio API, with
    less CPU for each callback, socket read and write, and timer, which is what every message costs
    (issue 30: about a tenth of an unaddressed message's CPU)."""
    if name != "uvloop":
        return None
    try:
        import uvloop
    except ImportError:
        log.warning("event_loop=uvloop, but uvloop is not installed (it is not on Windows): using asyncio's")
        return None
    return uvloop.new_event_loop


def settle_heap() -> None:
    """Once start-up has built what lives as long as the process (modules, the character, caches): collect,
    then freeze it out of the cyclic collector's sight (a full collection no longer walks it, and would
    otherwise stall the loop about 0.1 s), and make full collections rarer (FULL_COLLECTION_EVERY)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def run_on(name: str, main: Callable[[], Coroutine[object, object, None]]) -> None:
    """``asyncio.run(main())`` on the event loop ``name`` (:func:`loop_factory`)."""
    with asyncio.Runner(loop_factory=loop_factory(name)) as runner:
        loop = runner.get_loop()
        log.info("event loop: %s", type(loop).__module__.split(".")[0])
        runner.run(main())


async def close_database(store: Store) -> None:
    """The last step of a close: the database, after everything that writes to it has stopped."""
    await store.close()
    log.debug("database closed")
