"""Run every benchmark in turn (`make bench`); each prints its own figures and targets."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("bench_ingest", "bench_pipeline", "bench_backends", "bench_recall", "bench_consolidation",
              "bench_alive", "bench_load", "bench_service", "bench_delivery", "bench_cache",
              "bench_limits", "bench_burst", "bench_patterns")


def main() -> int:
    failed = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        failed += subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *sys.argv[1:]]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
