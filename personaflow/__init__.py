"""PersonaFlow: multiple characters with their own prompts and memories (a synchronous library).

Compatible with PersonaFlow's documented layout (``personaflow.core.system.PersonaSystem``,
``personaflow.core.character.Character``, ``personaflow.core.memory``, ``personaflow.utils``), with two
additions for Kindred: a pluggable summarizer and pluggable memory storage.
"""

from personaflow.core import Character, Memory, MemoryConfig, MemoryManager, PersonaSystem

__version__ = "0.1.0"
__all__ = ["Character", "Memory", "MemoryConfig", "MemoryManager", "PersonaSystem", "__version__"]
