"""What a test run may not do: change the user's checkout. conftest.py snapshots it when the run starts and
fails the run when it ends with a file added, changed or removed (tests write to temp folders only)."""

from __future__ import annotations

import os
from pathlib import Path

# Left out of the snapshot: what a run may write (caches), and what it does not look into.
_OURS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".grimp_cache", ".mypy_cache",
         "build", "node_modules"}


def checkout_files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of the checkout but caches, with its size and modification time."""
    found: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _OURS and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder) / name
            try:
                stat = path.lstat()
            except FileNotFoundError:  # removed while we looked
                continue
            found[path.relative_to(root).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def checkout_changes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """The files added, changed or removed; the screenshots `make screenshots` retakes on purpose excepted."""
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    if os.environ.get("UPDATE_SCREENSHOTS"):
        changed = [p for p in changed if not p.startswith("docs/screenshots/")]
    return changed
