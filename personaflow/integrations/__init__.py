"""Bridges between PersonaFlow and host applications."""
