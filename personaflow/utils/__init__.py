"""PersonaFlow utilities: prompt templates, JSON serialization, logging and validators."""

from personaflow.utils import validators
from personaflow.utils.logger import Logger
from personaflow.utils.prompt_manager import PromptManager, PromptTemplate
from personaflow.utils.serializer import Serializer

__all__ = ["Logger", "PromptManager", "PromptTemplate", "Serializer", "validators"]
