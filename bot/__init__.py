"""Kindred: a Discord persona bot that plays a character with Claude and remembers people."""
