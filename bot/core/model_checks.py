"""What the model client checks once, at start-up, before the first reply needs it: that each backend answers
and takes its key (one free models-list request), that every configured Claude model id is one the list
serves (a typo stops start-up with the closest real id), and which sampling settings a model would refuse.

:class:`StartupChecks` is part of :class:`~bot.core.claude.ClaudeClient`; kept apart so the call loop stays
readable.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.core.config import PROJECT_ROOT, ModelSettings, Settings
from bot.core.config.credentials import origin_of
from bot.core.config.loading import ENVIRONMENT
from bot.core.errors import ConfigError
from bot.core.models.base import KEY_REJECTED, MODELS_NOT_CHECKED, Backend, route
from bot.core.models.capabilities import Family, ModelTable
from bot.core.models.listed import accepted, closest
from bot.core.persona.model import Persona

log = logging.getLogger("bot.core.claude")  # the client's own log lines, wherever they are written

# How long start-up waits for the models list (the probe's own timeout, and a little).
PROBE_WAIT = 12.0


def models_in_use(models: ModelSettings, voting_model: str) -> dict[str, list[str]]:
    """backend -> the configured models (replies, premium replies, votes, background work) it serves."""
    used: dict[str, list[str]] = {}
    for model in (models.default_model, models.premium_model, voting_model,
                  models.summary_model or models.default_model):
        backend, name = route(model, models.llm_backend)
        if name not in used.setdefault(backend, []):
            used[backend].append(name)
    return used


# The settings that name a model, in the order a wrong one is reported.
MODEL_KEYS = ("default_model", "premium_model", "voting_model", "summary_model", "code_model", "vision_model")


class StartupChecks:
    """The start-up checks of the model client (its attributes are the client's)."""

    settings: Settings
    models: ModelTable
    _backends: dict[str, Backend]
    _in_use: dict[str, list[str]]
    _refused: dict[str, tuple[str, float]]
    _checks: asyncio.Task[list[str]] | None
    wrong_models: list[ConfigError]
    # and its backend(name) and family(model): declared for the checker only, defined by the client
    backend: Callable[[str], Backend]
    family: Callable[[str], Family | None]

    def start_checks(self) -> None:
        """Check in the background that each backend answers and takes its key (one free models-list
        request; other servers must serve the configured models too): a wrong key or an unreachable
        server is a warning naming its URL, not a crash; calls to it fall back like an outage."""
        self.models.hold_warnings()  # until the list is checked: see verify_models
        self._checks = asyncio.get_running_loop().create_task(self.check_backends(),
                                                              name="model-backend-check")

    async def check_backends(self) -> list[str]:
        problems = []
        for name, models in self._in_use.items():
            backend = self.backend(name)
            try:
                problem = await backend.probe(models)
            except Exception as exc:  # a check must never stop the bot
                problem = f"{backend.base_url} could not be checked ({type(exc).__name__}: {exc})"
            if problem and KEY_REJECTED in problem:
                self._refused[name] = (problem, time.monotonic())
                key = f"{name}_api_key"
                log.warning("%s: %s: %s; starting anyway, but replies that need %s fall back in character "
                            "until the key is fixed", origin_of(key, self.settings.origins), key, problem,
                            ", ".join(models))
                problems.append(problem)
            elif problem and MODELS_NOT_CHECKED in problem:  # it answers; only the check is missing
                log.warning("%s backend: %s", name, problem)
                problems.append(problem)
            elif problem:
                log.warning("%s backend: %s; replies that need %s fall back in character until it answers",
                            name, problem, ", ".join(models))
                problems.append(problem)
        self.wrong_models = self._unlisted_models()
        wrong_keys = {e.key for e in self.wrong_models}
        self.models.release_warnings({m for k, m in self._configured_models().items() if k in wrong_keys})
        return problems

    def _configured_models(self) -> dict[str, str]:
        """setting key -> the Claude model id it names (settings left empty use another's model)."""
        sections = [getattr(self.settings, f.name) for f in dataclasses.fields(self.settings)]
        found: dict[str, str] = {}
        for key in MODEL_KEYS:
            value = next((getattr(s, key) for s in sections if hasattr(s, key)), "")
            backend, name = route(value, self.settings.models.llm_backend) if value else ("", "")
            if backend == "anthropic":
                found[key] = name
        return found

    def _unlisted_models(self) -> list[ConfigError]:
        """Each configured Claude model id the models list does not serve, naming the file, the key and the
        closest real id. Ids the operator declared in model_capabilities (a proxy's own names) are theirs to
        vouch for; nothing is judged when the list could not be read (a warning has said so)."""
        listed = getattr(self._backends.get("anthropic"), "listed", None)
        if not listed:
            return []
        wrong = []
        for key, model in self._configured_models().items():
            if accepted(model, listed) or model in self.models.families or model in self.models.overrides:
                continue
            where = self.settings.origins.get(key) or str(self.settings.character_dir / "character.env")
            served = f"{model} is not a model {self._backends['anthropic'].base_url} serves"
            if "claude" not in model.lower():  # another vendor's id: no Claude id is spelled like it
                sonnets = [m for m in listed if "sonnet" in m] or listed
                wrong.append(ConfigError(where, key, f"{served} (not a Claude model: use a Claude id such as "
                                                     f"{closest(sonnets[0], sonnets)}, or llm_backend=openai "
                                                     "for an OpenAI-compatible server)"))
                continue
            wrong.append(ConfigError(where, key, f"{served} (did you mean {closest(model, listed)}?)"))
        return wrong

    async def verify_models(self) -> None:
        """Start-up: wait for the background check (beside the rest of start-up, so this rarely waits) and
        stop on a model id that surely does not exist: every reply would otherwise fail with HTTP 404. A
        check still running after PROBE_TIMEOUT goes on in the background and only logs."""
        if self._checks is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._checks), timeout=PROBE_WAIT)
        except TimeoutError:
            self._checks.add_done_callback(self._log_late_wrong_models)
            return
        self._raise_wrong_models()

    def _raise_wrong_models(self) -> None:
        for error in self.wrong_models[1:]:
            log.error("%s", error)
        if self.wrong_models:
            raise self.wrong_models[0]

    def _log_late_wrong_models(self, task: asyncio.Task[list[str]]) -> None:
        if not task.cancelled() and task.exception() is None:
            for error in self.wrong_models:
                log.error("%s; replies that need it fall back in character", error)

    def warn_refused_settings(self, personas: Sequence[Persona] = ()) -> list[str]:
        """Start-up, once: each sampling setting a reply model would refuse, naming the file, the key and
        the model ("temperature=0.8 in characters/atlas/character.json is ignored by claude-sonnet-5-5").
        The requests leave the value out; this is how the operator learns it."""
        models = self.settings.models
        asked: list[tuple[str, float, str]] = []
        if models.default_temperature != 1.0:
            origin = self.settings.origins.get("default_temperature")
            where = "the environment" if origin in (None, ENVIRONMENT) else _shown(origin)
            asked.append(("default_temperature", models.default_temperature, where))
        for persona in personas:
            value = getattr(persona, "temperature", None)
            if value is not None and value != 1.0:
                path = getattr(persona, "source_path", None)
                asked.append(("temperature", value, _shown(str(path)) if path else
                              f"character {getattr(persona, 'name', '?')}"))
        lines: list[str] = []
        for model in dict.fromkeys((models.default_model, models.premium_model)):
            family = self.family(model)
            if family is None:
                continue
            for key, value, where in asked:
                if "temperature" not in family.sampling:
                    lines.append(f"{key}={value:g} in {where} is ignored by {route(model, '')[1]} "
                                 f"({family.name} accepts no sampling parameters)")
        for line in lines:
            log.warning("%s", line)
        return lines


def _shown(path: str) -> str:
    """A path as the operator knows it: relative to the project when it lies inside."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return path
