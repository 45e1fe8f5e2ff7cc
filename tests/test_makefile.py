"""The Makefile's first minutes (issue 46): a wrong or stale interpreter is one line saying what to run,
checked with stand-in pythons; `make run` installs what running needs and `make test` adds the test
extras (dry runs, `make -n`, with a .venv that does not exist: nothing is installed here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.config import PROJECT_ROOT
from tests.fakes import PROCESS_WAIT
from tests.locking import installed_on_linux

# A python that says it is 3.10 and fails any program (the version check exits 1 on it, as a real 3.10 would).
OLD_PYTHON = '#!/bin/sh\nif [ "$1" = "-V" ]; then echo "Python 3.10.12"; exit 0; fi\nexit 1\n'


def make(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(["make", "-s", "--no-print-directory", "-C", str(PROJECT_ROOT), *args],
                          capture_output=True, text=True, env=env, timeout=PROCESS_WAIT)


def stand_in(path: Path, script: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    path.chmod(0o755)
    return path


def said(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What the recipe printed: its own lines, not make's "*** Error" trailer."""
    return [line for line in (result.stdout + result.stderr).splitlines() if not line.startswith("make")]


def test_a_venv_made_by_an_older_python_says_make_clean(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    stand_in(venv / "bin" / "python", OLD_PYTHON)
    result = make("interpreter", f"VENV={venv}")
    assert result.returncode != 0
    [line] = said(result)
    assert line == (f"{venv} was made by a Python that is gone or older than 3.11 (Python 3.10.12): "
                    "run `make clean`, then this command again")


def test_a_venv_whose_python_is_gone_says_make_clean(tmp_path: Path) -> None:
    """A venv's python is a link to the interpreter that made it: upgrading Python can leave it dangling."""
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(tmp_path / "removed" / "python3.10")
    result = make("run", f"VENV={venv}")  # the check comes before anything is installed or run
    assert result.returncode != 0
    [line] = said(result)
    assert line.endswith(f"(no python in {venv / 'bin'}): run `make clean`, then this command again")
    assert not (venv / ".installed-run").exists()


def test_an_old_system_python_is_named_before_a_venv_is_made(tmp_path: Path) -> None:
    old = stand_in(tmp_path / "python3.10", OLD_PYTHON)
    result = make("setup", f"VENV={tmp_path / '.venv'}", f"PYTHON={old}")
    assert result.returncode != 0
    [line] = said(result)
    assert line == (f"Kindred needs Python 3.11 or newer; {old} is Python 3.10.12: install a newer one and "
                    "name it, e.g. `make run PYTHON=python3.12`")
    assert not (tmp_path / ".venv").exists()


def test_a_good_venv_passes_silently(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    result = make("interpreter", f"VENV={venv}")
    assert result.returncode == 0 and said(result) == []


def installs(target: str, venv: Path) -> list[str]:
    """The pip install lines `make -n TARGET` would run for a fresh clone (no .venv yet)."""
    result = make("-n", target, f"VENV={venv}")
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    return [line for line in lines if "pip install" in line and "torch" not in line]


def test_make_run_installs_no_test_only_package(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    run = installs("run", venv)
    assert run == [f"{venv}/bin/pip install --require-hashes -r requirements.lock",
                   f"{venv}/bin/pip install -q --no-deps --no-build-isolation -e ."]
    test = installs("test", venv)
    locks = "-r requirements.lock -r requirements-test.lock"
    assert test == [*run, f"{venv}/bin/pip install --require-hashes {locks}",
                    f'{venv}/bin/pip install -q --no-deps --no-build-isolation -e ".[test]"']
    for target in ("lint", "screenshots"):  # they need ruff, import-linter, pytest, Playwright
        assert installs(target, venv)[-1].endswith('-e ".[test]"'), target
    for target in ("console", "bench"):
        assert not any("[test]" in line for line in installs(target, venv)), target


def test_the_first_set_up_says_what_it_installs_how_long_it_takes_and_shows_progress(tmp_path: Path) -> None:
    """A newcomer's first `make run` sat for six minutes with no word while pip (-q) worked: the banner
    says how many packages and how long (as measured), each step is named, and pip's own progress shows
    for the packages (only Kindred's own editable install, a second, stays quiet)."""
    venv = tmp_path / ".venv"
    result = make("-n", "run", f"VENV={venv}")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    locked = installed_on_linux()
    banner = out.split("setting up", 1)[1].split("python", 1)[0]
    assert f"{len(locked) + 1} packages" in banner and "1.6 GB" in banner
    assert "2 minutes on a quiet machine" in banner and "6 to 9 on a busy 2-core one" in banner
    assert all(step in out for step in ("[1/3] torch", "[2/3] the other", "[3/3] Kindred"))
    assert all(" -q " not in line for line in installs("run", venv) if "requirements.lock" in line)
    assert "$(BIN)/pip install --index-url $(TORCH_INDEX)" in (PROJECT_ROOT / "Makefile").read_text()


def test_pips_silent_unpacking_is_announced_before_it_starts(tmp_path: Path) -> None:
    """pip's "Installing collected packages" prints nothing for about 100 s, where a newcomer pressed Ctrl-C:
    a line right before each big install says that the silence comes, that it is work, and not to stop it."""
    venv = tmp_path / ".venv"
    for target in ("run", "test"):
        lines = [line.strip() for line in make("-n", target, f"VENV={venv}").stdout.splitlines()]
        installs_ = [i for i, line in enumerate(lines) if "pip install --require-hashes" in line]
        assert installs_, target
        for i in installs_:
            said_before = lines[i - 1]
            assert said_before.startswith("echo"), said_before
            assert "Installing collected packages" in said_before
            assert "prints nothing" in said_before and "Ctrl-C" in said_before


def test_a_reinstall_for_running_redoes_the_test_extras(tmp_path: Path) -> None:
    """A changed pyproject.toml reinstalls for running: the test extras' stamp goes with it, so `make test`
    installs them again at the new constraints."""
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / ".installed-test").touch()
    lines = make("-n", "run", f"VENV={venv}").stdout.splitlines()
    assert f"rm -f {venv}/.installed-test" in lines and f"touch {venv}/.installed-run" in lines


def test_make_bench_says_how_long_and_offers_a_quick_run(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`make bench` ran twelve benchmarks without a word of how long (issue 46): it says how many, how to
    run them small, and each one's place; `make bench ARGS=--quick` passes --quick to every one."""
    from benchmarks import run_all

    calls: list[list[str]] = []
    monkeypatch.setattr(run_all.subprocess, "call", lambda command: calls.append(command) or 0)
    assert run_all.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(run_all.BENCHMARKS)} benchmarks") and "make bench ARGS=--quick" in out
    last = run_all.BENCHMARKS[-1]
    assert f"== {last} ({len(run_all.BENCHMARKS)} of {len(run_all.BENCHMARKS)})" in out
    assert run_all.main(["--quick"]) == 0
    assert all(c[-1] == "--quick" for c in calls[len(run_all.BENCHMARKS):])
    dry = make("-n", "bench", "ARGS=--quick").stdout.splitlines()
    assert dry[-1].endswith("-m benchmarks.run_all --quick")


# A venv's python that runs the bot as a stand-in: the line main.py prints for a mistake, and its exit code.
BOT = ('#!/bin/sh\nif [ "$1" = "-c" ]; then exit 0; fi\n'
       'echo "config error: environment: x: what is wrong" >&2\nexit {code}\n')


@pytest.mark.parametrize(("target", "code"), [("run", 2), ("run", 1), ("console", 2)])
def test_make_run_ends_with_the_bots_own_line(tmp_path: Path, target: str, code: int) -> None:
    """`make run` as the README writes it (no -s), .venv set up already: what the bot said is the last
    line, with no "make: *** [run] Error N" after it."""
    venv = tmp_path / ".venv"
    stand_in(venv / "bin" / "python", BOT.format(code=code))
    (venv / ".installed-run").touch()  # set up: nothing is installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    result = subprocess.run(["make", target, f"VENV={venv}", "SYSTEM_PACKAGES="], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, env=env, timeout=PROCESS_WAIT)
    lines = (result.stdout + result.stderr).splitlines()
    assert lines == ["config error: environment: x: what is wrong"], lines
    assert result.returncode == 0  # make can say only 0 or 2: the code is main.py's (README)
