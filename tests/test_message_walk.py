"""A walk from ``on_message`` to the Claude request you can read: each stage visited once, no project module
calling back into one that called it, and ``bot/`` reaching ``cogs/`` only through an outlet.

One real DM reply over the fake wire is traced with ``sys.setprofile``. What counts:

* **a module**: every Python file of the project (``bot/``, ``cogs/``, ``memory/``, ``database/``,
  ``characters/``, ...; not ``tests/`` nor installed libraries, which are transparent: a module may call
  into discord.py or the SDK and get an answer back).
* **an entry**: a function (method, closure, lambda) of a module *starting* when the nearest project frame
  below it on the call stack belongs to another module (or there is none). A function calling another of its
  own module, a return to the caller, and a coroutine resuming after an ``await`` are no entries.
* **the window**: the message's own handling (the task ``on_message`` runs in and the tasks it starts), from
  ``on_message`` starting until the reply's first post starts (the Claude request is made before it). The
  same DM from someone else is answered first, untraced, so the process's caches are warm whichever test ran
  before; a streamed answer's rest is held until its first sentence is posted, so the model call's end
  never races the post: the same DM walks the same way each time.
* **no call back** (every module): no module is entered while a frame of its own is still on the call stack
  below the caller, i.e. no A -> B -> A: a module hands work to others and gets their answer back, and none
  of them calls back into it (a callback, a hook reaching through to its owner's attributes).
* **the Discord edge**: nothing in ``bot/`` enters ``cogs/`` except an outlet's methods (the ``Outlet``
  protocol of bot/core/stages.py): cogs are the edge, the flow does not call up into them.
* **the stages**: six modules a reader follows a message through (``STAGES``). The stages entered, in the
  order they are entered and with consecutive entries of the same stage collapsed (other modules ignored),
  name each stage once (``WALK``), and no entry comes from a stage later in the walk than the one entered.
* **how far it goes** (``CEILING``): the modules entered, and the module-to-module steps taken (distinct
  pairs of the module an entry came from and the one entered), are at most what they are now: a new module
  on the way is a hop every reader follows, worth it or moved where it belongs.
* **the order**: delivery comes before the model client. The typing indicator runs while the model writes,
  and a streamed reply is posted as it is written: delivery runs the model call the writer built for it
  (bot/reply/generation.py), and reads the text so far from it, not from a callback of its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import pytest
from sqlalchemy import make_url

from bot.core.stages import Outlet
from tests.fakes.claude_server import Reply
from tests.harness import MakeHarness, reply_requests

ROOT = Path(__file__).resolve().parent.parent
NOT_PROJECT = ("tests", ".venv", "venv")
STAGES = {
    "cogs/messages.py": "events",
    "bot/reply/pipeline.py": "pipeline",
    "bot/reply/writer.py": "writer",
    "bot/reply/prompting.py": "prompting",
    "bot/reply/delivery.py": "delivery",
    "bot/core/claude.py": "claude",
}
# The walk, in order: the sequence admits and decides, the character's writer has prompting build the
# request, then hands it to delivery, which has the model client write it (bot/reply/generation.py) while the
# typing indicator runs.
WALK = ["events", "pipeline", "writer", "prompting", "delivery", "claude"]
OUTLETS = ROOT / "bot" / "discord" / "outlets.py"
# What bot/ may call in cogs/: an outlet's methods (what a reply goes through).
OUTLET_METHODS = frozenset(name for name in vars(Outlet) if not name.startswith("_")) | {"greeting"}


def module_of(filename: str) -> str | None:
    """The project module a code object belongs to ("bot/reply/writer.py"), None outside the project."""
    path = Path(filename).resolve()
    try:
        relative = path.relative_to(ROOT)
    except ValueError:
        return None
    if relative.suffix != ".py" or relative.parts[0] in NOT_PROJECT:
        return None
    return relative.as_posix()


@dataclass(frozen=True)
class Entry:
    module: str
    function: str  # where it entered (a code object's qualified name)
    caller: str | None  # the module it was called from (None: the event loop, a task's first step)
    below: tuple[str, ...]  # the project modules further down the call stack, nearest first


class Walk:
    """Records the module entries of one message's handling (see the module's docstring)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []  # every module's
        self.stage_entries: list[tuple[str, str | None]] = []  # (stage, the stage it was called from)
        self.functions: list[tuple[str, str]] = []  # (module, qualified name) of each project call, in order
        self.started: set[FrameType] = set()  # project frames already running (kept alive: ids not reused)
        self.ended = False
        self._module_of: dict[CodeType, str | None] = {}
        self._walking: contextvars.ContextVar[bool] = contextvars.ContextVar("walking", default=False)

    def module(self, code: CodeType) -> str | None:
        try:
            return self._module_of[code]
        except KeyError:
            module = self._module_of[code] = module_of(code.co_filename)
            return module

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or self.ended:
            return
        code = frame.f_code
        module = self.module(code)
        if code.co_name == "on_message" and module == "cogs/messages.py" and frame not in self.started:
            # Set in the handling task's own context: the tasks it starts inherit it, no other task has it.
            self._walking.set(True)
        if not self._walking.get():
            return
        if code.co_name == "send" and module == "bot/discord/outlets.py":
            self.ended = True  # the reply's first post: the walk is over
            self.functions.append((module, code.co_qualname))
            return
        if module is None or code.co_name == "<module>" or frame in self.started:
            return  # a library, an import, a coroutine resuming
        self.started.add(frame)
        self.functions.append((module, code.co_qualname))
        below: list[str] = []
        caller = frame.f_back
        while caller is not None:
            caller_module = self.module(caller.f_code)
            if caller_module is not None and (not below or below[-1] != caller_module):
                below.append(caller_module)
            caller = caller.f_back
        if not below or below[0] != module:
            self.entries.append(Entry(module, code.co_qualname, below[0] if below else None, tuple(below)))
        stage = STAGES.get(module)
        if stage is not None:
            caller_stage = next((STAGES[m] for m in below if m in STAGES), None)
            if caller_stage != stage:
                self.stage_entries.append((stage, caller_stage))

    def collapsed(self) -> list[str]:
        walk: list[str] = []
        for stage, _ in self.stage_entries:
            if not walk or walk[-1] != stage:
                walk.append(stage)
        return walk

    def calls_back(self) -> list[Entry]:
        """Entries of a module still on the call stack below the one that called it (A -> B -> A)."""
        return [e for e in self.entries if e.module in e.below[1:]]

    def into_cogs(self) -> list[Entry]:
        """Entries of cogs/ from bot/ other than an outlet's methods."""
        return [
            e for e in self.entries
            if e.module.startswith("cogs/") and (e.caller or "").startswith("bot/")
            and e.function.rpartition(".")[2] not in OUTLET_METHODS
        ]

    def modules(self) -> list[str]:
        return sorted({e.module for e in self.entries})

    def steps(self) -> list[tuple[str, str]]:
        """The module-to-module steps: (the module an entry came from, the module entered), each once."""
        return sorted({(e.caller, e.module) for e in self.entries if e.caller is not None})

    @staticmethod
    def describe(entries: list[Entry]) -> str:
        return "\n".join(f"{' <- '.join(e.below[::-1])} -> {e.module}:{e.function}" for e in entries)


async def traced_dm(make_harness: MakeHarness, mode: str) -> Walk:
    harness = await make_harness(reply_delivery=mode)
    text = "Glub! Hello there, friend."
    # The same DM from someone else first, untraced, and all its work done: the process's caches (an id list
    # parsed, a prompt block counted) are then as warm for the traced one whichever test ran before.
    harness.claude.script(text, model="claude-test-default")
    first = await harness.dm("hello finn", user=harness.user2_id)
    await harness.handled(first)
    await harness.at_rest()
    # A streamed answer's rest waits until its first sentence is posted: the model call's end (the usage
    # kept, the request logged) never runs inside the window, however the two tasks are scheduled.
    writing = asyncio.Event() if mode == "streamed" else None
    harness.claude.script(Reply(text, writing=writing, written_until=len("Glub! ")),
                          model="claude-test-default")
    walk, profiling = Walk(), sys.getprofile()
    sys.setprofile(walk.profile)
    try:
        sent = await harness.dm("hello finn")
        await harness.replies(int(sent["channel_id"]))
    finally:
        sys.setprofile(profiling)
        if writing is not None:
            writing.set()
    await harness.handled(sent)
    [reply] = harness.discord.posted(int(sent["channel_id"]))
    assert reply["content"] == text  # streamed: the first sentence, then edited
    assert len(reply_requests(harness)) == 2  # the fake Claude received the request
    assert walk.ended, "the reply's post was not seen"
    return walk


MODES = ["whole", "streamed"]  # streamed: the model call runs in a task of its own
# (modules entered, module-to-module steps) at most, by database and mode. The data layer's own modules differ
# (PostgreSQL reads a person's rows in one statement and asks whether other processes are alive; SQLite's
# statements go through its thread), and a streamed reply's first post comes before its model call has ended
# (the usage not kept yet). Measured warm (traced_dm), so the same DM walks the same way whichever test ran
# before it; one module and one step of room, as the model call's end and the bookkeeping around it race. A
# change that raises a ceiling says in its commit which module every reply now enters, and why.
CEILING = {
    ("sqlite", "whole"): (77, 119), ("sqlite", "streamed"): (75, 114),
    ("postgresql", "whole"): (84, 127), ("postgresql", "streamed"): (82, 121),
}


@pytest.mark.parametrize("mode", MODES)
async def test_a_dm_reply_walks_through_each_stage_once(make_harness: MakeHarness, mode: str) -> None:
    walk = await traced_dm(make_harness, mode)
    description = "\n".join(f"{caller} -> {stage}" for stage, caller in walk.stage_entries)
    assert walk.collapsed() == WALK, description
    rank = {stage: i for i, stage in enumerate(WALK)}
    backwards = [(s, c) for s, c in walk.stage_entries if c is not None and rank[c] > rank[s]]
    assert backwards == [], description


@pytest.mark.parametrize("mode", MODES)
async def test_no_module_calls_back_into_one_that_called_it(make_harness: MakeHarness, mode: str) -> None:
    walk = await traced_dm(make_harness, mode)
    modules = walk.modules()
    assert set(STAGES) <= set(modules), modules  # every project module is traced, not only the stages
    assert any(m.startswith(("memory/", "database/")) for m in modules), modules
    assert walk.calls_back() == [], Walk.describe(walk.calls_back())


@pytest.mark.parametrize("mode", MODES)
async def test_bot_enters_cogs_only_through_an_outlet(make_harness: MakeHarness, mode: str) -> None:
    walk = await traced_dm(make_harness, mode)
    assert walk.into_cogs() == [], Walk.describe(walk.into_cogs())


@pytest.mark.parametrize("mode", MODES)
async def test_a_dm_reply_enters_no_more_modules_than_it_does_now(make_harness: MakeHarness, db_url: str,
                                                                  mode: str) -> None:
    walk = await traced_dm(make_harness, mode)
    most_modules, most_steps = CEILING[make_url(db_url).get_backend_name(), mode]
    why = ("a DM now enters more of the project than CEILING allows: a module on every reply's way (a "
           "feature's lender, gate or observer is asked on every reply, where its setting is off too) is a "
           "hop every reader follows. If it is worth it, raise CEILING by what it adds and say in the commit "
           "which module every reply now enters and why; else move the work where it belongs")
    assert len(walk.modules()) <= most_modules, f"{why}. Modules: {walk.modules()}"
    assert len(walk.steps()) <= most_steps, f"{why}. Steps: {walk.steps()}"


async def test_the_path_of_one_dm_the_docs_list_is_the_one_it_walks(make_harness: MakeHarness) -> None:
    """docs/architecture.md's numbered path of one DM (tests/test_docs.py checks each is defined where it
    says) names functions a DM's answer enters, each in the order listed, the last its post: the list a
    newcomer reads stays the way the message goes."""
    from tests.test_docs import dm_path

    walk = await traced_dm(make_harness, "whole")
    first: dict[tuple[str, str], int] = {}
    for n, function in enumerate(walk.functions):
        first.setdefault(function, n)
    path = dm_path()
    assert [step for step in path if step not in first] == []
    entered = [first[step] for step in path]
    assert entered == sorted(entered), [path[i] for i in sorted(range(len(path)), key=entered.__getitem__)]
    assert walk.functions[-1] == path[-1]  # the post ends the walk
