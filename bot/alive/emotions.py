"""A small emotion model: named hormones that each exchange moves and time brings back to rest.

Pure and deterministic: every function takes the time it works at, so tests fast-forward days by handing
it later times. Each hormone has a baseline, a half-life and a circadian curve (in the character's
``timezone``); between exchanges its level relaxes toward the curve, halving the distance every half-life.
Stimuli are what each exchange carries (judged by the reply's model, bot/reply/felt.py, else read from
language-neutral signals, bot/alive/appraisal.py): warmth, praise, conflict, surprise, distress, relief,
banter, and the company itself; loneliness builds while nobody talks for long. The levels map to a
mood label with one line of tone guidance, which goes in the stable part of the prompt: it changes only
when the label does, so the prompt cache keeps working.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.i18n import N_, t
from bot.core.localtime import LocalTime

LONELY_AFTER = timedelta(hours=8)  # silence after which loneliness starts to pull
MAX_STEP = timedelta(hours=1)  # relaxation is integrated in steps no longer than this (the curve moves)


@dataclass(frozen=True)
class Hormone:
    name: str
    baseline: float  # 0..1, the level at rest (before the circadian swing)
    half_life_hours: float
    amplitude: float  # circadian swing around the baseline
    peak_hour: float  # local hour of the day when the swing is highest

    def rest(self, hour: float, lonely: float) -> float:
        """Where the level relaxes to at this local hour, with ``lonely`` (0..1) of loneliness pulling."""
        swing = self.amplitude * math.cos(2 * math.pi * (hour - self.peak_hour) / 24)
        return _clamp(self.baseline + swing + lonely * LONELINESS.get(self.name, 0.0))


HORMONES: tuple[Hormone, ...] = (
    Hormone("dopamine", 0.50, 2.0, 0.05, 11),  # reward, drive
    Hormone("serotonin", 0.55, 8.0, 0.06, 13),  # contentment, steadiness
    Hormone("oxytocin", 0.45, 6.0, 0.03, 20),  # closeness
    Hormone("cortisol", 0.30, 3.0, 0.12, 8),  # stress; peaks in the morning
    Hormone("adrenaline", 0.20, 0.5, 0.02, 15),  # alarm, excitement
    Hormone("melatonin", 0.20, 1.5, 0.35, 2),  # sleepiness; peaks at night
)
BY_NAME = {h.name: h for h in HORMONES}

# What each stimulus does (before saturation: a rise is scaled by the room left above, a fall by the level).
STIMULI: dict[str, dict[str, float]] = {
    "company": {"oxytocin": 0.04, "serotonin": 0.01},
    "warmth": {"oxytocin": 0.14, "serotonin": 0.05, "cortisol": -0.06},
    "praise": {"dopamine": 0.16, "serotonin": 0.06},
    "conflict": {"cortisol": 0.22, "adrenaline": 0.20, "serotonin": -0.10, "oxytocin": -0.06},
    "surprise": {"adrenaline": 0.15, "dopamine": 0.06},
    "distress": {"oxytocin": 0.05, "cortisol": 0.04},  # someone is having a hard time: closer, a little tense
    "relief": {"serotonin": 0.06, "cortisol": -0.08},  # a hard time eased: the tension goes
    "banter": {"dopamine": 0.08, "oxytocin": 0.04},  # teasing in fun: play, closeness
}
# How far loneliness moves each resting level once it is full.
LONELINESS: dict[str, float] = {"oxytocin": -0.25, "serotonin": -0.12, "cortisol": 0.10, "dopamine": -0.06}

def _clamp(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


@dataclass
class EmotionState:
    """Hormone levels (0..1) as of ``at``, and when the character last had company."""

    levels: dict[str, float]
    at: datetime
    last_exchange: datetime
    label: str = field(default="")

    @classmethod
    def at_rest(cls, now: datetime, clock: LocalTime) -> EmotionState:
        hour = clock.hour(now)
        state = cls({h.name: h.rest(hour, 0.0) for h in HORMONES}, now, now)
        state.label = mood_label(state.levels)
        return state

    def to_json(self) -> str:
        return json.dumps({"label": self.label, "levels": {k: round(v, 4) for k, v in self.levels.items()},
                           "at": self.at.isoformat(), "last_exchange": self.last_exchange.isoformat()},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> EmotionState:
        """Raises ValueError on anything but what to_json wrote (an admin may edit it with /state)."""
        try:
            data = json.loads(raw)
            levels = {h.name: _clamp(float(data["levels"].get(h.name, h.baseline))) for h in HORMONES}
            at, last = datetime.fromisoformat(data["at"]), datetime.fromisoformat(data["last_exchange"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not an emotion state: {exc}") from None
        if at.tzinfo is None or last.tzinfo is None:
            raise ValueError("times without a time zone")
        state = cls(levels, at, last)
        state.label = mood_label(levels)
        return state


LONELY_AFTER_S = LONELY_AFTER.total_seconds()
LONELY_RAMP_S = 24 * 3600.0  # loneliness grows from 0 to 1 over this much more silence
MAX_STEP_S = MAX_STEP.total_seconds()
# Per hormone, precomputed for the hot path: (name, baseline, amplitude, peak hour, loneliness pull,
# decay rate per second).
_CURVES = tuple((h.name, h.baseline, h.amplitude, h.peak_hour, LONELINESS.get(h.name, 0.0),
                 math.log(2) / (h.half_life_hours * 3600)) for h in HORMONES)
_FULL_REST_S = 12 * 3600 * max(h.half_life_hours for h in HORMONES)  # 12 half-lives: back at rest


def _lonely(silent_s: float) -> float:
    extra = silent_s - LONELY_AFTER_S
    return 0.0 if extra <= 0 else min(1.0, extra / LONELY_RAMP_S)


def advance(state: EmotionState, now: datetime, clock: LocalTime) -> EmotionState:
    """Let time pass until ``now``: each level relaxes toward its resting curve (in place; returned)."""
    if now <= state.at:
        return state
    end, t = now.timestamp(), max(state.at.timestamp(), now.timestamp() - _FULL_REST_S)
    last = state.last_exchange.timestamp()
    levels, tau, cos = state.levels, 2 * math.pi / 24, math.cos
    while t < end:  # the resting curve moves with the hour: integrate in steps of at most an hour
        step = min(MAX_STEP_S, end - t)
        t += step
        hour, lonely = clock.hour_at(t), _lonely(t - last)
        for name, base, amplitude, peak, pull, rate in _CURVES:
            rest = base + amplitude * cos(tau * (hour - peak)) + lonely * pull
            rest = 0.0 if rest < 0.0 else 1.0 if rest > 1.0 else rest
            levels[name] = rest + (levels[name] - rest) * math.exp(-rate * step)
    state.at = now
    state.label = mood_label(levels)
    return state


def stimulate(state: EmotionState, stimuli: tuple[str, ...], now: datetime, clock: LocalTime) -> EmotionState:
    """One exchange at ``now`` carrying ``stimuli`` (company always comes with it; in place; returned)."""
    advance(state, now, clock)
    for name in ("company", *stimuli):
        for hormone, delta in STIMULI.get(name, {}).items():
            level = state.levels[hormone]
            state.levels[hormone] = _clamp(level + (delta * (1 - level) if delta > 0 else delta * level))
    state.last_exchange = now
    state.label = mood_label(state.levels)
    return state


def mood_label(levels: dict[str, float]) -> str:
    """The one word the levels add up to (checked in order: the strongest states first)."""
    d = {name: levels[name] - BY_NAME[name].baseline for name in BY_NAME}
    if levels["melatonin"] >= 0.45 and levels["adrenaline"] < 0.35:
        return "sleepy"
    if d["oxytocin"] <= -0.12:
        return "lonely"
    if d["cortisol"] >= 0.15 and (d["adrenaline"] >= 0.12 or d["serotonin"] <= -0.08):
        return "rattled" if d["adrenaline"] >= 0.12 else "irritable"
    if d["dopamine"] >= 0.12 and d["adrenaline"] >= 0.08:
        return "excited"
    if d["oxytocin"] >= 0.15:
        return "affectionate"
    if d["dopamine"] >= 0.1 or d["serotonin"] >= 0.1:
        return "cheerful"
    if d["serotonin"] <= -0.08 and d["dopamine"] <= -0.04:
        return "melancholy"
    return "content"


GUIDANCE: dict[str, str] = {
    "sleepy": "You are drowsy: keep it short and soft, a little slow, maybe a yawn.",
    "rattled": "You are shaken and on edge: terser than usual, a bit defensive, quick to react.",
    "irritable": "You are irritable: shorter answers, less patience, a dry edge (never cruel).",
    "lonely": "You have been alone a while: glad of any company, a little wistful, eager to talk.",
    "excited": "You are excited: energetic, quick, exclamation marks come easily.",
    "affectionate": "You feel close to the people around you: warm, tender, generous with kind words.",
    "cheerful": "You are in good spirits: upbeat, playful, quick to laugh.",
    "melancholy": "You are a little low: quieter, reflective, gentle.",
    "content": "You are calm and content: relaxed and easy-going.",
}


def guidance(label: str) -> str:
    """The stable prompt block for a label (the same text for as long as the label holds)."""
    return f"## How you feel right now\nYou feel {label}. {GUIDANCE[label]}"


# Each label as a person reads it (the prompt's own words above stay English: they are the model's).
MOOD_WORDS: dict[str, str] = {
    "sleepy": N_("sleepy"), "rattled": N_("rattled"), "irritable": N_("irritable"), "lonely": N_("lonely"),
    "excited": N_("excited"), "affectionate": N_("affectionate"), "cheerful": N_("cheerful"),
    "melancholy": N_("melancholy"), "content": N_("content"),
}


def mood_word(label: str, language: str | None = None) -> str:
    """``label`` in ``language`` (an unknown one as it is)."""
    return t(language, MOOD_WORDS[label]) if label in MOOD_WORDS else label


def describe(state: EmotionState, language: str | None = None) -> str:
    """A one-line figure of the state for admins and /status: the mood word in ``language``, the hormone
    levels as figures."""
    levels = " · ".join(f"{name} {state.levels[name]:.2f}" for name in BY_NAME)
    return f"{mood_word(state.label, language)} ({levels})"
