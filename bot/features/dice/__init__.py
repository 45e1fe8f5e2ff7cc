"""Dice: the character may roll dice while replying (a ``roll_dice`` client tool), where the ``dice`` setting
(the ``server_tools`` section) is on. A tool lender (bot/core/pipeline.py ``ReplyTools``), built in
``compose()`` with one line."""

from __future__ import annotations

import random
from collections.abc import Sequence

from bot.core.config import ServerToolSettings
from bot.core.models.tools import Lent, ToolOutput, client_tool
from bot.core.pipeline import Incoming
from database.boundary import JsonObject

DECLARED = client_tool("roll_dice", "Roll dice: how many, and how many sides each.",
                       {"count": {"type": "integer"}, "sides": {"type": "integer"}}, ("count", "sides"))
VOICE = "You can roll dice (roll_dice) when someone asks you to; say what came up as yourself."


class RollDice:
    name = "roll_dice"

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    async def run(self, arguments: JsonObject) -> ToolOutput:
        count, sides = arguments.get("count"), arguments.get("sides")
        if not (isinstance(count, int) and isinstance(sides, int) and 1 <= count <= 20 and 2 <= sides <= 100):
            return ToolOutput("roll 1 to 20 dice of 2 to 100 sides", error=True)
        rolls = [self.rng.randint(1, sides) for _ in range(count)]
        return ToolOutput(f"{' + '.join(map(str, rolls))} = {sum(rolls)}")


class Dice:
    """The dice lent to a reply where ``dice`` is on (read at each message: a reload applies)."""

    def __init__(self, settings: ServerToolSettings, rng: random.Random | None = None) -> None:
        self.settings, self.rng = settings, rng or random.Random()

    async def __call__(self, msg: Incoming) -> Sequence[Lent]:
        if not self.settings.dice or msg.author_is_bot:
            return ()
        return (Lent(DECLARED, RollDice(self.rng), voice=VOICE),)
