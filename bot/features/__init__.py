"""The features, a package each (its plain classes in one place: what it lends a reply, what it delivers,
its settings section, ``config.py``), each declaring itself in one registration (its ``FEATURE``,
bot/operator/registration.py): its settings section, its switches, its cogs, what /forget_me deletes, its
unprompted spending and what it adds to the replies. ``FEATURES`` lists them, once: the composition root
(bot/runtime/composition.py) builds them, the client loads their cogs, ``/bot`` gets their switches
(cogs/activation.py), and importing it registers their settings sections. A feature package imports what
is below it (the operator, alive, the reply path, memory, the core, the data layer), never another feature
nor the Discord edge; its slash commands stay a thin cog in cogs/, which its docstring names. How to add
one: docs/design.md ("Adding a feature")."""

from bot.features.checkins import FEATURE as CHECKINS
from bot.features.corrections import FEATURE as CORRECTIONS
from bot.features.faces import FEATURE as FACES
from bot.features.mcp import FEATURE as MCP
from bot.features.polls import FEATURE as POLLS
from bot.features.proactive import FEATURE as PROACTIVE
from bot.features.quiet import FEATURE as QUIET
from bot.features.reactions import FEATURE as REACTIONS
from bot.features.reminders import FEATURE as REMINDERS
from bot.features.servertools import FEATURE as SERVERTOOLS
from bot.features.swipes import FEATURE as SWIPES
from bot.features.threads import FEATURE as THREADS
from bot.features.voice import FEATURE as VOICE
from bot.features.websearch import FEATURE as WEBSEARCH
from bot.operator.registration import Feature

# One line each (and its import), in the order their tools are offered to the model and their gates asked.
FEATURES: tuple[Feature, ...] = (
    REACTIONS,
    CORRECTIONS,
    THREADS,
    WEBSEARCH,
    REMINDERS,
    MCP,
    QUIET,
    SWIPES,
    PROACTIVE,
    CHECKINS,
    SERVERTOOLS,
    POLLS,
    FACES,
    VOICE,
)
