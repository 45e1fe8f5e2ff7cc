"""The corrections feature's section of config.env (named in its ``FEATURE``; read as
``settings.section(CorrectionSettings)``)."""

from dataclasses import dataclass
from typing import ClassVar

from bot.core.config.keys import key


@dataclass(frozen=True)
class CorrectionSettings:
    """Answers of its own to correction reactions, where a place asks for them (bot/features/corrections/,
    /bot corrections); the reactions that are corrections: the alive section's ``correction_reactions``."""

    TITLE: ClassVar[str] = "Answers to corrections"
    correction_answers: bool = key(
        False, "A correction reaction on one of the character's replies gets an answer of its own there (a "
        "short reply to the reacted message, one model call), where no admin used /bot corrections; in a DM "
        "this default stands.")
    correction_answers_per_hour: int = key(
        3, "Answers to correction reactions per channel per hour at most (a reaction flood costs at most "
        "this many model calls a channel).", min=0, restart=True)
