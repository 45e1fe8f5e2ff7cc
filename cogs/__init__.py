"""Thin cogs: Discord in, Discord out. The logic lives in bot/ and memory/."""
