"""Run every benchmark in turn (`make bench`); each prints its own figures and targets. It says up front how
many there are and how to get a quicker run, then each one's place and time (issue 46: a silent run of
unknown length looked stuck)."""

from __future__ import annotations

import subprocess
import sys
import time

BENCHMARKS = ("bench_ingest", "bench_pipeline", "bench_backends", "bench_recall", "bench_consolidation",
              "bench_alive", "bench_load", "bench_service", "bench_delivery", "bench_cache",
              "bench_limits", "bench_burst", "bench_patterns", "bench_votes", "bench_lorebook",
              "bench_voice", "bench_outage")


def main(args: list[str] | None = None) -> int:
    args = sys.argv[1:] if args is None else args
    quick = "--quick" in args
    print(f"{len(BENCHMARKS)} benchmarks, one after another"
          + (" at small sizes (--quick)." if quick else
             ": at full size each takes from seconds to several minutes on a 2-core machine; "
             "`make bench ARGS=--quick` runs them at small sizes."), flush=True)
    failed = 0
    started = time.monotonic()
    for number, name in enumerate(BENCHMARKS, 1):
        print(f"== {name} ({number} of {len(BENCHMARKS)})", flush=True)
        began = time.monotonic()
        failed += subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *args]) != 0
        print(f"== {name}: {time.monotonic() - began:.0f} s (all so far: {time.monotonic() - started:.0f} s)",
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
