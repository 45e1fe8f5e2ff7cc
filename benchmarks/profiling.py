"""The bot process's own CPU and where it goes, for the load benchmark (benchmarks/bench_load.py).

CPU is read from /proc (Linux): the process's user + system time, and each thread's, native threads
(OpenMP workers, the database driver's, the SDK's) included. A profile is taken with py-spy when it is
installed (sampling from a process of its own, so the bot runs as it would) and else with cProfile inside
the bot, switched on and off by signals (benchmarks/profiled_bot.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat_cpu(stat: str) -> float:
    # utime and stime are the 14th and 15th fields; the command name (2nd) may hold spaces, so split after it.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used so far (all its threads, living and ended)."""
    try:
        return _stat_cpu(Path(f"/proc/{pid}/stat").read_text())
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds by thread, keyed "name (tid)"."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            name = (task / "comm").read_text().strip()
            out[f"{name} ({task.name})"] = _stat_cpu((task / "stat").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


_LINE = re.compile(r" \(([^():]+):\d+\)$")


def _frame(frame: str) -> str:
    """py-spy's "function (path/file.py:123)" as "function (file.py)": one entry per function."""
    return _LINE.sub(lambda m: f" ({Path(m.group(1)).name})", frame.strip())


def summarize_collapsed(text: str, top: int = 25) -> str:
    """The top functions of py-spy's collapsed stacks ("frame;frame;... count"), by own and total samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        samples += n
        own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
    if not samples:
        return "no samples\n"
    lines = [f"{samples} active samples (idle excluded)", "", "own samples:"]
    lines += [f"{n * 100 / samples:6.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["", "total samples (the function and what it calls):"]
    lines += [f"{n * 100 / samples:6.1f}%  {f}" for f, n in total.most_common(top)]
    return "\n".join(lines) + "\n"


def py_spy() -> str | None:
    """py-spy on PATH or beside this Python (a virtual environment's bin/)."""
    return shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))


def profiled_command(profile: str | None, command: list[str]) -> list[str]:
    """The bot's command line: through the cProfile wrapper when profiling without py-spy."""
    if profile and py_spy() is None:
        return [sys.executable, "-m", "benchmarks.profiled_bot", profile, *command[2:]]  # after "main.py"
    return command


class Profiler:
    """Profiles one bot process between start() and stop(); report() writes ``<file>.txt``."""

    def __init__(self, file: str, pid: int) -> None:
        self.file = Path(file).resolve()
        self.pid = pid
        self.spy = py_spy()
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.file.unlink(missing_ok=True)  # stop() waits for the file to appear: not an earlier run's
        if self.spy is None:
            os.kill(self.pid, signal.SIGUSR1)  # benchmarks/profiled_bot.py: cProfile on
            return
        self._proc = await asyncio.create_subprocess_exec(
            self.spy, "record", "--pid", str(self.pid), "--rate", "1000", "--nonblocking", "--format", "raw",
            "--output", str(self.file), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)

    async def stop(self) -> None:
        if self._proc is None:
            os.kill(self.pid, signal.SIGUSR2)  # cProfile off, its stats written to the file
            for _ in range(100):  # the bot writes the file between two of its own steps
                if self.file.exists():
                    break
                await asyncio.sleep(0.1)
            return
        self._proc.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
        await asyncio.wait_for(self._proc.wait(), timeout=60)

    def report(self, threads: dict[str, float], top: int = 25) -> None:
        if self.spy is not None:
            collapsed = self.file.read_text(errors="replace")  # native frames may not be UTF-8
            head = f"py-spy, {self.file.name}\n" + summarize_collapsed(collapsed, top)
        else:
            import io
            import pstats
            out = io.StringIO()
            stats = pstats.Stats(str(self.file), stream=out)
            stats.sort_stats("tottime").print_stats(top)
            stats.sort_stats("cumulative").print_stats(top)
            head = f"cProfile, {self.file.name}\n" + out.getvalue()
        busy = sorted(threads.items(), key=lambda kv: -kv[1])
        spent = sum(threads.values()) or 1.0
        lines = ["", "CPU by thread over the phases (seconds, share):"]
        lines += [f"{cpu:8.2f} s {cpu * 100 / spent:5.1f}%  {name}" for name, cpu in busy[:15] if cpu > 0]
        Path(f"{self.file}.txt").write_text(head + "\n".join(lines) + "\n")
