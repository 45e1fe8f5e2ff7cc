"""`main.py cluster status` in a process of its own, released at a barrier, for tests/test_migration_lock.py.

The test starts :func:`run_main` through multiprocessing's forkserver with this module preloaded, so each
process is a fork of one that has already imported main.py and what it opens the database with: both of a
round reach ``Database.open()`` within a moment of the barrier, not a Python start-up apart. What runs after
the barrier is main.py's own ``main()`` (argument parsing, settings, ``Store.open()``, its error handling);
the exit code is the process's.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import bot.runtime.cluster  # noqa: F401  (what `cluster status` imports, loaded before the barrier)
import database.engine
import database.store  # noqa: F401
import main
from bot.core.config import PROJECT_ROOT

FINN = PROJECT_ROOT / "characters" / "finn"


def run_main(url: str, barrier: Any, out_path: str, migration_wait: float | None = None) -> None:
    """Wait at ``barrier``, then `main.py --character characters/finn cluster status` on ``url``."""
    os.environ["DATABASE_URL"] = url
    if migration_wait is not None:  # the not-ready test: waiting 300 s would prove nothing more
        database.engine.MIGRATION_WAIT_SECONDS = migration_wait
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    if barrier is not None:
        barrier.wait()
    sys.argv = ["main.py", "--character", str(FINN), "cluster", "status"]
    main.main()  # sys.exit(code): the process's exit code
