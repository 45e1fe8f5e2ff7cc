"""The fake Discord server used by the suite (see tests/fakes/discord_lead.py for the implementation)."""

from tests.fakes.discord_lead import FakeDiscord, Interaction

__all__ = ["FakeDiscord", "Interaction"]
