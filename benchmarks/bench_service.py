"""Running as a service: what live config reload costs, and the Docker build when a daemon is there.

- one poll (the character folder and config.env stat'ed by modification time and size): paid every
  ``config_reload_seconds`` in a worker thread (target: under 1 ms median);
- one reload of a changed configuration (read and validate everything, compare, apply): paid once per edit;
- ``docker build`` of the Dockerfile, timed, when ``docker info`` answers (the tests never need Docker).
Run: python -m benchmarks.bench_service [--quick] [--no-docker]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import percentile, summary_ms
from bot.core.config import PROJECT_ROOT, load_settings
from bot.core.config.holder import SettingsHolder
from bot.core.config.live import changes, live_settings
from bot.runtime.reloader import stamp_files

TARGET_MS = 1.0
ENV = {"DISCORD_TOKEN": "bench", "ANTHROPIC_API_KEY": "bench"}


def time_polls(folder: Path, config: Path, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        stamp_files([folder], [config])
        samples.append(time.perf_counter() - start)
    return samples


def time_reloads(folder: Path, config: Path, n: int) -> list[float]:
    running = SettingsHolder(load_settings(folder, config, environ=ENV))
    samples = []
    for i in range(n):
        config.write_text(f"default_max_tokens={1000 + i % 2}\n", encoding="utf-8")
        start = time.perf_counter()
        new = load_settings(folder, config, environ=ENV)
        changes(running.current, new)
        running.update(live_settings(running.current, new))
        samples.append(time.perf_counter() - start)
    return samples


def docker_build() -> str:
    if shutil.which("docker") is None:
        return "skipped (no docker command)"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["docker info failed"])[-1]
        return f"skipped ({reason})"
    start = time.perf_counter()
    built = subprocess.run(["docker", "build", "-t", "kindred:bench", str(PROJECT_ROOT)], capture_output=True,
                           text=True)
    took = time.perf_counter() - start
    if built.returncode != 0:
        return f"FAILED after {took:.0f} s: {built.stderr.strip()[-500:]}"
    return f"built kindred:bench in {took:.0f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--no-docker", action="store_true", help="skip the docker build")
    args = parser.parse_args()
    polls, reloads = (200, 20) if args.quick else (2000, 100)
    with tempfile.TemporaryDirectory(prefix="kindred-bench-") as tmp:
        folder = Path(tmp) / "finn"
        shutil.copytree(PROJECT_ROOT / "characters" / "finn", folder)
        config = Path(tmp) / "config.env"
        config.write_text("default_max_tokens=1000\n", encoding="utf-8")
        poll = time_polls(folder, config, polls)
        reload = time_reloads(folder, config, reloads)
    median_ms = percentile([s * 1000 for s in poll], 50)
    verdict = "within" if median_ms < TARGET_MS else "OVER"
    print(f"one poll (stat of the character folder and config.env): {summary_ms(poll)}; "
          f"target < {TARGET_MS} ms (median): {verdict}")
    print(f"one reload (read, validate, compare, apply):             {summary_ms(reload)}")
    print(f"docker build: {'skipped (--no-docker)' if args.no_docker else docker_build()}")


if __name__ == "__main__":
    main()
