"""Characters: every supported format is loaded into one :class:`Persona` (see
:mod:`bot.core.persona.loader`)."""

from bot.core.persona.loader import load_persona
from bot.core.persona.model import EvolutionStage, Lorebook, LoreEntry, Persona, render_macros

__all__ = [
    "EvolutionStage",
    "LoreEntry",
    "Lorebook",
    "Persona",
    "load_persona",
    "render_macros",
]
