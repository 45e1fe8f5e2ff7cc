"""Configuration: ``config.env`` (technical) + the character folder's ``character.env`` (identity, secrets).

Both are read with python-dotenv; real environment variables override both. Key names are
case-insensitive, so a ClaudeMask folder (``discord_token``, ``TYPING_SPEED_CPM = 300``) works unchanged.
Every problem is a :class:`~bot.core.errors.ConfigError` naming the file and the key.

* ``sections.py``: every setting, declared once, in the section of the code that reads it (``service.py``:
  the sections of running it as a service; ``messages.py``: images and files, reply delivery); a feature's
  settings are a section in its own package, registered by its ``FEATURE`` (:func:`register_section`);
* ``keys.py``: how a declaration (:func:`key`) reads back as a :class:`Setting`;
* ``loading.py``: files and environment to a validated :class:`Settings`;
* ``docs.py``: config.env.example and docs/configuration.md (``python -m bot.runtime.configdocs sync-docs``);
* ``paths.py``: the project root and character folders.
"""

from bot.core.config.keys import Setting, key
from bot.core.config.loading import (
    CHARACTER_KEYS,
    ENVIRONMENT,
    LEGACY_KEYS,
    Source,
    is_known_key,
    load_settings,
    read_sources,
    warn_unknown_character_keys,
    warn_unknown_keys,
)
from bot.core.config.paths import (
    DEFAULT_CHARACTER,
    PROJECT_ROOT,
    CharacterChoice,
    choose_character_dir,
    missing_folder,
    resolve_folder,
)
from bot.core.config.sections import (
    BY_KEY,
    FEATURE_SECTIONS,
    MIN_DASHBOARD_TOKEN,
    SECTIONS,
    SETTINGS,
    AliveSettings,
    DashboardSettings,
    DiscordSettings,
    EnsembleSettings,
    MemorySettings,
    ModelSettings,
    ReplySettings,
    SecretSettings,
    Settings,
    StorageSettings,
    TimeoutSettings,
    TypingSettings,
    register_section,
)
from bot.core.config.service import OperationSettings

__all__ = [
    "BY_KEY", "CHARACTER_KEYS", "FEATURE_SECTIONS", "DEFAULT_CHARACTER", "ENVIRONMENT", "LEGACY_KEYS",
    "MIN_DASHBOARD_TOKEN",
    "PROJECT_ROOT", "SECTIONS", "SETTINGS", "AliveSettings", "CharacterChoice", "choose_character_dir",
    "DashboardSettings", "DiscordSettings", "EnsembleSettings", "is_known_key", "key", "load_settings",
    "MemorySettings", "missing_folder", "ModelSettings", "OperationSettings",
    "read_sources", "ReplySettings",
    "register_section", "resolve_folder", "SecretSettings", "Setting", "Settings", "Source",
    "StorageSettings",
    "TimeoutSettings", "TypingSettings", "warn_unknown_character_keys",
    "warn_unknown_keys",
]
