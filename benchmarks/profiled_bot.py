"""``python -m benchmarks.profiled_bot FILE main.py-arguments...``: main.py with cProfile switched on by
SIGUSR1 and off by SIGUSR2 (its stats then written to FILE), for bench_load --profile without py-spy.

The bot's event loop runs on the main thread, where signal handlers run, so that is the thread profiled. Its
clock is the thread's CPU time: on a loaded machine wall time would charge a function for the moments the
process waited for a core (a syscall or a lock handed over looks ten times dearer than it is)."""

from __future__ import annotations

import cProfile
import os
import runpy
import signal
import sys
import time
from types import FrameType


def main() -> None:
    file, args = sys.argv[1], sys.argv[2:]
    profiler = cProfile.Profile(time.thread_time)

    def on(_sig: int, _frame: FrameType | None) -> None:
        profiler.enable()

    def off(_sig: int, _frame: FrameType | None) -> None:
        profiler.disable()
        # Written aside and renamed: the benchmark waits for FILE to appear and must never read half of it.
        profiler.dump_stats(f"{file}.part")
        os.replace(f"{file}.part", file)

    signal.signal(signal.SIGUSR1, on)
    signal.signal(signal.SIGUSR2, off)
    sys.argv = ["main.py", *args]
    runpy.run_path("main.py", run_name="__main__")


if __name__ == "__main__":
    main()
