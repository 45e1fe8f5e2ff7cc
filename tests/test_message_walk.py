"""Issue 45, "wiring you can read": a walk from ``on_message`` to the Claude request visits each module once.

One real DM reply over the fake wire is traced with ``sys.setprofile``. What counts:

* **the stages**: six modules, the ones a reader follows a message through (``STAGES``). Every other module
  (helpers such as ``bot/discord/voice.py``, ``bot/reply/keeping.py``, ``bot/reply/generation.py``,
  discord.py, the SDK) is transparent: a stage may call into it and get an answer back.
* **an entry**: a function (method, closure, lambda) of a stage module *starting* when the nearest stage frame
  below it on the call stack belongs to another stage (or there is none). A function calling another of its
  own module, a return to the caller, and a coroutine resuming after an ``await`` are no entries.
* **the window**: the message's own handling (the task ``on_message`` runs in and the tasks it starts), from
  ``on_message`` starting until the reply's first post starts (the Claude request is made before it).
* **visits once**: the stages entered, in the order they are entered and with consecutive entries of the same
  stage collapsed, name each stage once (``WALK``): a stage entered again after the flow moved on to another
  (a callback from delivery into the engine, say) names it twice. And no entry comes from a stage later in
  the walk than the one entered: a stage hands over to later ones (the engine has prompting build the prompt,
  then delivery send the reply) and gets their answer back, and none calls back into an earlier one.
* **the order**: delivery comes before the model client. The typing indicator runs while the model writes,
  and a streamed reply is posted as it is written: delivery runs the model call the engine built for it
  (bot/reply/generation.py, a helper), and reads the text so far from it, not from a callback of its own.
"""

from __future__ import annotations

import contextvars
import sys
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import pytest

from tests.harness import MakeHarness, reply_requests

ROOT = Path(__file__).resolve().parent.parent
STAGES = {
    "cogs/messages.py": "events",
    "bot/reply/sequence.py": "sequence",
    "bot/reply/engine.py": "engine",
    "bot/reply/prompting.py": "prompting",
    "bot/reply/delivery.py": "delivery",
    "bot/core/claude.py": "claude",
}
# The walk, in order: the engine decides and has prompting build the request, then hands it to delivery, which
# has the model client write it (bot/reply/generation.py) while the typing indicator runs.
WALK = ["events", "sequence", "engine", "prompting", "delivery", "claude"]
OUTLETS = ROOT / "bot" / "discord" / "outlets.py"


@dataclass(frozen=True)
class Entry:
    stage: str
    function: str  # where it entered (a code object's qualified name)
    caller: str | None  # the stage it was called from (None: the event loop, a task's first step)


class Walk:
    """Records the stage entries of one message's handling (see the module's docstring)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.started: set[FrameType] = set()  # stage frames already running (kept alive: ids not reused)
        self.ended = False
        self._stage_of: dict[CodeType, str | None] = {}
        self._files = {str(ROOT / path): stage for path, stage in STAGES.items()}
        self._walking: contextvars.ContextVar[bool] = contextvars.ContextVar("walking", default=False)

    def stage(self, code: CodeType) -> str | None:
        try:
            return self._stage_of[code]
        except KeyError:
            stage = self._stage_of[code] = self._files.get(str(Path(code.co_filename).resolve()))
            return stage

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or self.ended:
            return
        code = frame.f_code
        if code.co_name == "on_message" and self.stage(code) == "events" and frame not in self.started:
            # Set in the handling task's own context: the tasks it starts inherit it, no other task has it.
            self._walking.set(True)
        if not self._walking.get():
            return
        if code.co_name == "send" and code.co_filename == str(OUTLETS):
            self.ended = True  # the reply's first post: the walk is over
            return
        stage = self.stage(code)
        if stage is None or frame in self.started:  # a helper, or a coroutine resuming
            return
        self.started.add(frame)
        caller = frame.f_back
        while caller is not None and self.stage(caller.f_code) is None:
            caller = caller.f_back
        caller_stage = self.stage(caller.f_code) if caller is not None else None
        if caller_stage != stage:
            self.entries.append(Entry(stage, code.co_qualname, caller_stage))

    def collapsed(self) -> list[str]:
        walk: list[str] = []
        for entry in self.entries:
            if not walk or walk[-1] != entry.stage:
                walk.append(entry.stage)
        return walk

    def describe(self) -> str:
        return "\n".join(f"{e.caller} -> {e.stage}.{e.function}" for e in self.entries)


@pytest.mark.parametrize("mode", ["whole", "streamed"])  # streamed: the model call runs in a task of its own
async def test_a_dm_reply_walks_through_each_stage_once(make_harness: MakeHarness, mode: str) -> None:
    harness = await make_harness(reply_delivery=mode)
    harness.claude.script("Glub! Hello there, friend.", model="claude-test-default")
    walk, profiling = Walk(), sys.getprofile()
    sys.setprofile(walk.profile)
    try:
        sent = await harness.dm("hello finn")
        await harness.replies(int(sent["channel_id"]))
    finally:
        sys.setprofile(profiling)
    await harness.handled(sent)
    [reply] = harness.discord.posted(int(sent["channel_id"]))
    assert reply["content"] == "Glub! Hello there, friend."  # streamed: the first sentence, then edited
    assert len(reply_requests(harness)) == 1  # the fake Claude received the request
    assert walk.ended, "the reply's post was not seen"
    assert walk.collapsed() == WALK, walk.describe()
    rank = {stage: i for i, stage in enumerate(WALK)}
    backwards = [e for e in walk.entries if e.caller is not None and rank[e.caller] > rank[e.stage]]
    assert backwards == [], walk.describe()
