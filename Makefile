# `make run` sets up and runs the bot; `make test` sets up and runs the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two stamps: `make run` installs what running needs, `make test` adds the test extras (pytest, ruff,
# Playwright...) on top; a bot that is only run never gets them.
STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# pyproject.toml's requires-python: checked before anything is made or installed.
MIN_PYTHON := 3.11

# Debian packages voice needs (ffmpeg converts audio, espeak-ng speaks, libopus0 is the Opus codec discord.py
# encodes a voice channel's audio with): installed when missing.
SYSTEM_PACKAGES := ffmpeg espeak-ng libopus0

.PHONY: setup setup-test interpreter torch system-packages browser run console test lint bench screenshots \
	constraints lock clean

# torch: the CPU build (a 190 MB wheel), the same pin as pyproject.toml and the Dockerfile. PyPI's Linux
# wheel is the multi-GB CUDA build, so it comes from PyTorch's CPU index, unless pip already has it offline:
# from a wheel folder (--find-links) or a local index (file://) pip is configured with, as on an offline
# build machine. tests/test_docker.py runs this recipe with a stand-in pip in both situations.
TORCH := torch==2.13.0
TORCH_INDEX := https://download.pytorch.org/whl/cpu

# Every package at the version constraints.txt names (tested together), each file checked against the sha256
# the lock files hold (pip's --require-hashes: a file that differs from the one locked is refused); then
# Kindred itself, with nothing more to fetch (no dependencies, no build environment). pyproject.toml says
# what is needed; `make lock` writes the locks. pip is the one the venv brings (upgrading it would be a
# download no hash checks).
# The first set-up takes minutes with no word from pip when quiet (-q): the banner says what comes and how
# long it took as measured (a fresh venv from a local wheel folder: 91 s of CPU; 6 to 9 minutes of wall time
# at a load of 8 to 17 on 2 cores), each step is named, and pip shows each package as it goes.
# pip's last phase ("Installing collected packages") unpacks everything with no progress at all: about
# 100 s on a quiet machine, where a newcomer took it for a hang and pressed Ctrl-C. Said before it starts.
QUIET_PHASE := after the list, pip says 'Installing collected packages' and then prints nothing while it \
	unpacks them, for a minute or two (several on a busy machine): it is working, do not press Ctrl-C
LOCKS := requirements.lock requirements-test.lock requirements-torch.lock
# What Linux installs: the lock's lines but those for Windows alone, and torch.
LINUX_LINES := grep '^[A-Za-z0-9]' requirements.lock | grep -c -v "sys_platform == 'win32'"
PACKAGES = $(shell echo $$(( $$($(LINUX_LINES)) + 1 )))
$(STAMP): pyproject.toml constraints.txt $(LOCKS) | interpreter
	@echo "setting up $(VENV), the first time only: $(PACKAGES) packages, about 1.6 GB on disk (torch's CPU" \
	      "build among them); about 2 minutes on a quiet machine, 6 to 9 on a busy 2-core one, more when" \
	      "they are downloaded; pip shows each package as it goes"
	$(PYTHON) -m venv $(VENV)
	@echo "[1/3] torch, the CPU build (its unpacking is quiet for a minute or so)"
	$(MAKE) --no-print-directory torch
	@echo "[2/3] the other $$(( $(PACKAGES) - 1 )) packages (requirements.lock)"
	@echo "$(QUIET_PHASE)"
	$(BIN)/pip install --require-hashes -r requirements.lock
	@echo "[3/3] Kindred itself"
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	rm -f $(TEST_STAMP)
	touch $(STAMP)

# The test extras, hash-checked the same way, on top of what running needs.
$(TEST_STAMP): $(STAMP)
	@echo "adding the test tools (requirements-test.lock)"
	@echo "$(QUIET_PHASE)"
	$(BIN)/pip install --require-hashes -r requirements.lock -r requirements-test.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e ".[test]"
	touch $(TEST_STAMP)

# Refresh the lock files from constraints.txt (tests/locking.py): pip resolves the project without installing
# anything, once for each supported platform, and each locked file's sha256 is read from PyPI's index. Run
# after `make constraints`, and commit both (with tests/data/lock_files.json, which records the files).
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python tests/locking.py .venv-lock
	rm -rf .venv-lock

# A .venv whose python is gone or too old (made before Python was upgraded: its links point at the old
# one) stays broken whatever is installed into it; and a venv cannot be made from a Python that is too old.
# Either way, one line says what to run.
PYTHON_OK := import sys; sys.exit(sys.version_info < tuple(map(int, "$(MIN_PYTHON)".split("."))))
interpreter:
	@if [ -e $(VENV) ] || [ -L $(BIN)/python ]; then \
		if ! $(BIN)/python -c '$(PYTHON_OK)' 2>/dev/null; then \
			found=$$($(BIN)/python -V 2>/dev/null | head -n 1); \
			echo "$(VENV) was made by a Python that is gone or older than $(MIN_PYTHON)" \
			     "($${found:-no python in $(BIN)}): run \`make clean\`, then this command again"; \
			exit 1; \
		fi; \
	elif ! $(PYTHON) -c '$(PYTHON_OK)' 2>/dev/null; then \
		found=$$($(PYTHON) -V 2>/dev/null | head -n 1); \
		echo "Kindred needs Python $(MIN_PYTHON) or newer; $(PYTHON) is $${found:-not installed}:" \
		     "install a newer one and name it, e.g. \`make run PYTHON=python3.12\`"; \
		exit 1; \
	fi

# Refresh constraints.txt: the newest versions pyproject.toml allows, resolved in a fresh environment, then
# pinned. Run `make test` after it and commit both when it passes.
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/pip install -q --upgrade pip
	$(MAKE) --no-print-directory torch BIN=.venv-constraints/bin
	.venv-constraints/bin/pip install -q ".[test]"
	{ echo "# Versions tested together; refresh with \`make constraints\` (README: Dependencies)."; \
	  echo "# torch is pinned in pyproject.toml (a CPU build), so it is not listed here."; \
	  .venv-constraints/bin/pip freeze --exclude-editable | grep -v -i -E '^(kindred|torch|nvidia-|triton)[=@ ]'; \
	} > constraints.txt
	rm -rf .venv-constraints

# $(TORCH) as requirements-torch.lock pins it (its files' sha256), without its dependencies (requirements.lock).
TORCH_LOCK := --no-deps --require-hashes -r requirements-torch.lock
torch:
	@if $(BIN)/pip install -q --no-index $(TORCH_LOCK) 2>/dev/null; then :; \
	elif { $(BIN)/pip config list 2>/dev/null; echo "$$PIP_INDEX_URL $$PIP_EXTRA_INDEX_URL"; } \
			| grep -q "file:"; then \
		$(BIN)/pip install $(TORCH_LOCK); \
	else \
		echo "installing $(TORCH), the CPU build (190 MB), from $(TORCH_INDEX)"; \
		$(BIN)/pip install --index-url $(TORCH_INDEX) $(TORCH_LOCK); \
	fi

setup: $(STAMP) system-packages

setup-test: $(TEST_STAMP) system-packages

# Each package is named after its program, or a library's (lib...N) after its file, libopus0 after libopus.so.0,
# which the dynamic linker's cache lists. Without root (or apt-get) the command to run is printed instead.
system-packages:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do \
		case $$p in \
			lib*) { ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -q "$${p%%[0-9]*}\.so\.$${p##*[!0-9]}" ;; \
			*) command -v $$p >/dev/null 2>&1 ;; \
		esac || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing$$missing (Debian packages, for voice)"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends$$missing; \
	else \
		echo "voice needs$$missing; not root, so not installed: sudo apt-get install$$missing"; \
	fi

# The dashboard's browser tests drive Debian's chromium (never a browser Playwright would download). Installed
# with apt when missing and run as root; otherwise those tests skip and say why.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium; } \
		|| echo "could not install chromium: the dashboard's browser tests will be skipped"; \
	else \
		echo "chromium is not installed and this is not root: the dashboard's browser tests will be skipped" \
		     "(sudo apt-get install chromium)"; \
	fi

# `make run` and `make console` end with the bot's own line (a config error, "cannot reach Discord"...), not
# with make's "make: *** [run] Error N" after it: the bot's exit is not make's failure ("-" with -s, which
# make reports without a word). make itself can only exit 0 or 2, so it passes no code on: the exit codes
# README.md gives are main.py's (.venv/bin/python main.py, as Docker and systemd run it).
ifneq ($(filter run console,$(MAKECMDGOALS)),)
MAKEFLAGS += -s
endif

run: setup
	-$(BIN)/python main.py $(ARGS)

console: setup
	-$(BIN)/python main.py --console $(ARGS)

# ruff, the architecture's contracts (lint-imports), and the types (mypy, [tool.mypy] in pyproject.toml: strict
# on bot/, memory/ and database/; its cache in .mypy_cache makes a second run take seconds).
lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# In parallel (pytest-xdist): three workers per core. Much of a test's time is spent waiting on its child
# processes, fakes, timers and real-time audio: with two workers per core the 2 cores were still idle 29% of
# the run (measured; docs/design.md). Each worker has its own temp folders and databases; worksteal moves
# waiting tests to an idle worker. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 3 )))

test: setup-test browser
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	@# Byte-compiled once here, and pytest's rewritten test modules kept (PYTHONDONTWRITEBYTECODE emptied for
	@# the run): the suite starts main.py about seventy times and each worker collects every test file; where
	@# the variable is set (as on CI machines) each would compile it all again (1.5 s of CPU per start).
	$(BIN)/python -m compileall -q -j 0 main.py bot cogs database memory personaflow tests benchmarks
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Retake the dashboard screenshots docs/commands.md shows (docs/screenshots/); commit them when the pages changed.
screenshots: setup-test browser
	UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/test_dashboard_browser.py -k operator

bench: setup
	$(BIN)/python -m benchmarks.run_all $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
