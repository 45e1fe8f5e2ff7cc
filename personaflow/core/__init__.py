"""PersonaFlow core: characters, their memories, and the system that holds them."""

from personaflow.core.character import Character
from personaflow.core.memory import Memory, MemoryConfig, MemoryManager
from personaflow.core.system import PersonaSystem, SystemStore

__all__ = ["Character", "Memory", "MemoryConfig", "MemoryManager", "PersonaSystem", "SystemStore"]
