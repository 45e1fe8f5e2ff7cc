"""Alive between messages, the pure parts: the emotion model under an injected clock, writing-style
profiles, emote syntax, quiet hours, the proactive round's decision, the durable grid, status lines and
the reaction rate limit. Plus the configuration's refusal of a malformed quiet_hours or timezone."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.alive.emotes import EMPTY, Emote, EmoteSet, render, warm_reaction
from bot.alive.emotions import HORMONES, STIMULI, EmotionState, advance, guidance, mood_label, stimulate
from bot.alive.reactions import ReactionGate
from bot.alive.status import MAX_STATUS, clean_status
from bot.alive.style import MIN_MESSAGES, StyleProfile, learn
from bot.alive.style import guidance as style_guidance
from bot.core.config import PROJECT_ROOT, load_settings
from bot.core.errors import ConfigError
from bot.core.localtime import LocalTime, hour_in, parse_quiet_hours
from bot.core.timers import next_after
from bot.features.proactive.rounds import judge
from bot.features.reactions.reacting import aimed_at_me, warm_stimuli
from database.records import SeenMessage
from tests.fakes import PROCESS_WAIT

UTC_CLOCK = LocalTime.of("UTC", "")
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FINN = PROJECT_ROOT / "characters" / "finn"
SECRETS = {"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"}


# --------------------------------------------------------------------------- emotions


def test_every_named_hormone_has_a_baseline_a_half_life_and_a_circadian_curve() -> None:
    names = {h.name for h in HORMONES}
    assert {"dopamine", "serotonin", "oxytocin", "cortisol", "adrenaline", "melatonin"} <= names
    night, day = EmotionState.at_rest(NOON.replace(hour=2), UTC_CLOCK), EmotionState.at_rest(NOON, UTC_CLOCK)
    assert night.levels["melatonin"] > day.levels["melatonin"] + 0.3  # the curve, in the time zone
    assert (night.label, day.label) == ("sleepy", "content")
    paris = LocalTime.of("Asia/Tokyo", "")  # 02:00 UTC is 11:00 in Tokyo: awake there
    assert EmotionState.at_rest(NOON.replace(hour=2), paris).label != "sleepy"


def test_every_kind_the_reply_model_may_judge_moves_the_hormones_and_the_regard() -> None:
    from bot.alive.regard import STIMULI as REGARD
    from bot.reply.felt import KINDS

    assert set(KINDS) <= set(STIMULI) and set(KINDS) <= set(REGARD)


def test_exchanges_move_the_hormones_and_time_brings_them_back() -> None:
    state, calm = EmotionState.at_rest(NOON, UTC_CLOCK), EmotionState.at_rest(NOON, UTC_CLOCK)
    rest = dict(state.levels)
    for minute in range(3):
        stimulate(state, ("praise", "warmth"),
                  NOON + timedelta(minutes=minute), UTC_CLOCK)
        stimulate(calm, (), NOON + timedelta(minutes=minute), UTC_CLOCK)  # the same company, nothing warm
    assert state.levels["oxytocin"] > rest["oxytocin"] + 0.2
    assert state.levels["dopamine"] > rest["dopamine"] + 0.15
    assert state.label == "affectionate"
    excess = {n: state.levels[n] - calm.levels[n] for n in rest}
    later = NOON + timedelta(minutes=2) + timedelta(hours=7)
    advance(state, later, UTC_CLOCK)
    advance(calm, later, UTC_CLOCK)
    for hormone in HORMONES:  # what the exchange added fades by half every half-life, while the curve moves
        expected = excess[hormone.name] * 0.5 ** (7 / hormone.half_life_hours)
        assert state.levels[hormone.name] - calm.levels[hormone.name] == pytest.approx(expected, abs=1e-9)
    assert abs(state.levels["dopamine"] - calm.levels["dopamine"]) < 0.02  # 3.5 half-lives later

    conflict = EmotionState.at_rest(NOON, UTC_CLOCK)
    for _ in range(2):
        stimulate(conflict, ("conflict",), NOON, UTC_CLOCK)
    assert conflict.label == "rattled" and conflict.levels["cortisol"] > rest["cortisol"] + 0.2


def test_loneliness_builds_in_a_long_silence_and_company_ends_it() -> None:
    state = EmotionState.at_rest(NOON, UTC_CLOCK)
    advance(state, NOON + timedelta(days=2), UTC_CLOCK)
    assert state.label == "lonely"
    assert state.levels["oxytocin"] < EmotionState.at_rest(NOON, UTC_CLOCK).levels["oxytocin"] - 0.15
    for minute in range(6):
        stimulate(state, ("warmth",), NOON + timedelta(days=2, minutes=minute), UTC_CLOCK)
    assert state.label != "lonely"


def test_the_model_is_deterministic_and_survives_a_round_trip() -> None:
    def run() -> EmotionState:
        state = EmotionState.at_rest(NOON, UTC_CLOCK)
        for i, found in enumerate([(), ("praise",), ("surprise",), ("conflict",), ("warmth",)]):
            stimulate(state, found, NOON + timedelta(minutes=13 * i), UTC_CLOCK)
        return advance(state, NOON + timedelta(days=3, hours=5), UTC_CLOCK)

    first, second = run(), run()
    assert first.levels == second.levels and first.label == second.label
    again = EmotionState.from_json(first.to_json())
    assert again.label == first.label and again.at == first.at
    assert all(abs(again.levels[n] - first.levels[n]) < 1e-3 for n in first.levels)
    with pytest.raises((ValueError, KeyError)):
        EmotionState.from_json('{"levels": 3}')


def test_the_prompt_text_changes_only_with_the_label() -> None:
    a = EmotionState.at_rest(NOON, UTC_CLOCK)
    b = EmotionState.at_rest(NOON + timedelta(minutes=40), UTC_CLOCK)
    assert a.levels != b.levels and guidance(a.label) == guidance(b.label)
    assert guidance("sleepy") != guidance("content") and "You feel sleepy." in guidance("sleepy")
    assert mood_label({h.name: h.baseline for h in HORMONES}) == "content"


# --------------------------------------------------------------------------- style


def test_a_profile_is_learnt_incrementally_and_becomes_one_line_of_guidance() -> None:
    profile: StyleProfile | None = None
    casual = ["hey lol whats up 😂", "idk tbh its fine", "gonna go fishing 🎣", "nah ur right"]
    for i, text in enumerate(casual):
        profile = learn(profile, text)
        assert profile.messages == i + 1
        assert (style_guidance(profile, "alice") == "") == (i + 1 < MIN_MESSAGES)
    assert profile is not None
    line = style_guidance(profile, "alice")
    assert line.startswith("## How alice writes\n") and line.count("\n") == 1
    for part in ("very short messages", "all in lowercase", "without final punctuation"):
        assert part in line, line
    formal: StyleProfile | None = None
    for text in ("Good evening. Would you kindly tell me about the tides?",
                 "Thank you, that is most helpful.",
                 "I appreciate your explanation; however, I have another question."):
        formal = learn(formal, text)
    assert formal is not None
    assert "in English" in style_guidance(formal, "bob")
    # an absent habit goes unsaid (the line is paid for at every reply); a present one is said
    assert formal.shown["emoji"] == "no emoji" and "emoji" not in style_guidance(formal, "bob")
    assert "emoji" in line  # alice's odd emoji
    spanish: StyleProfile | None = None
    for text in ("Hola, ¿cómo estás? Estoy bien", "que hace el pez por la mañana", "es muy bonito el mar"):
        spanish = learn(spanish, text)
    assert spanish is not None and "in Spanish" in style_guidance(spanish, "carla")
    assert StyleProfile.from_json(profile.to_json()) == profile
    assert learn(profile, "   ") == profile  # nothing to learn from


def test_the_style_line_holds_while_a_person_writes_near_an_edge() -> None:
    """Hysteresis: a person whose messages average about 15 words (the edge of "short") and who now and then
    ends one with an exclamation mark keeps one style line; a clear change still shows."""
    profile: StyleProfile | None = None
    lines, words = [], []
    for i in range(40):
        n = 11 + (i % 2) * 8  # 11 and 19 words in turn
        text = " ".join(["word"] * n) + ("!" if i % 4 < 2 else ".")  # half of them
        profile = learn(profile, text)
        words.append(profile.words)
        lines.append(style_guidance(profile, "alice"))
    settled = lines[10:]
    assert min(words[10:]) < 15 < max(words[10:])  # the figure crosses the edge again and again
    assert len(set(settled)) == 1, set(settled)  # the line does not
    for _ in range(15):
        profile = learn(profile, " ".join(["word"] * 30) + ".")
    assert "medium-length messages" in style_guidance(profile, "alice")  # a clear change shows
    assert profile is not None and StyleProfile.from_json(profile.to_json()).shown == profile.shown


def test_the_style_line_reads_shape_in_any_script_and_leaves_register_to_the_model() -> None:
    """Register (tu/usted, du/Sie, です/だ) is not guessed from one language's words: the same messages
    written formally or casually in Spanish, German or Japanese give the same kind of line, never a
    "formal"/"casual" label, and a Japanese writer ending with 。 counts as punctuating."""
    lines = {}
    for code, texts in {
        "es": ("Buenas tardes. ¿Podría usted decirme a qué hora abre la tienda?",
               "Muchas gracias por su ayuda.", "Le agradezco mucho la explicación."),
        "de": ("Guten Abend. Könnten Sie mir bitte sagen, wann der Laden öffnet?",
               "Vielen Dank für Ihre Hilfe.", "Ich bedanke mich herzlich für die Erklärung."),
        "ja": ("こんばんは。お店は何時に開きますか？", "ご丁寧にありがとうございます。",
               "ご説明いただき感謝いたします。"),
    }.items():
        profile: StyleProfile | None = None
        for text in texts:
            profile = learn(profile, text)
        assert profile is not None
        lines[code] = style_guidance(profile, "alice")
        assert "formal" not in lines[code] and "casual" not in lines[code], lines[code]
        assert "without final punctuation" not in lines[code], lines[code]
    assert "in Spanish" in lines["es"] and "in German" in lines["de"] and "in Japanese" in lines["ja"]
    # A profile stored while register was still learnt from English words loads without it.
    old = '{"messages":4,"words":3.0,"formality":-0.8,"formal_seen":4,"registers":[-1,-1],"languages":{}}'
    assert StyleProfile.from_json(old).messages == 4


# --------------------------------------------------------------------------- emotes


def test_emote_names_become_valid_syntax_and_invalid_ones_never_survive() -> None:
    emotes = EmoteSet([Emote("blobwave", 111), Emote("partyfish", 222, animated=True)])
    text = ("hi :blobwave: and :partyfish: :smile: :doesnotexist: ok <:fake:999> <:blobwave:5> "
            "<a:partyfish:222>")
    assert render(text, emotes) == ("hi <:blobwave:111> and <a:partyfish:222> 😄 ok <:blobwave:111> "
                                    "<a:partyfish:222>")
    assert render(":BlobWave: hi", emotes) == "<:blobwave:111> hi"  # case as Discord's picker would
    assert render("<:blobwave:111> in a DM", EMPTY) == "in a DM"  # no server: its emotes are unknown
    for untouched in ("at 10:30:00 sharp", "note:this:that", "ratio 3:2 :)", "https://example.org/a:b:c"):
        assert render(untouched, emotes) == untouched
    assert ":blobwave:" in emotes.prompt_block and ":partyfish: (animated)" in emotes.prompt_block
    assert EMPTY.prompt_block == ""
    assert warm_reaction(EmoteSet([Emote("lovefish", 7)]), ("warmth",)) == Emote("lovefish", 7)
    assert warm_reaction(emotes, ("praise",)) == "👍" and warm_reaction(EMPTY, ("warmth",)) == "❤️"


# --------------------------------------------------------------------------- time, rounds, schedule


def test_quiet_hours_parse_and_wrap_past_midnight() -> None:
    assert parse_quiet_hours("23-7") == (23, 7) and parse_quiet_hours(" ") is None
    for bad in ("23:00-7", "25-3", "7-7", "night", "23-"):
        with pytest.raises(ValueError):
            parse_quiet_hours(bad)
    assert hour_in(23.5, 23, 7) and hour_in(3, 23, 7) and not hour_in(7, 23, 7) and not hour_in(12, 23, 7)
    paris = LocalTime.of("Europe/Paris", "23-7")
    assert paris.is_quiet(datetime(2026, 7, 1, 22, 30, tzinfo=UTC))  # 00:30 in Paris (summer time)
    assert not paris.is_quiet(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))


def seen(author: int, minutes_ago: float, now: datetime, mid: int = 1) -> SeenMessage:
    return SeenMessage(mid, 10, 1, author, "x", False, False, "hello", now - timedelta(minutes=minutes_ago))


def test_the_round_decision_names_each_skip_reason() -> None:
    me, now, hours = {42}, NOON, timedelta(hours=6)

    def decide(recent: list[SeenMessage], *, active: bool = True, roll: float = 0.0) -> str:
        return judge(now, recent, me, active=active, max_silence=hours, chance=0.1,
                     roll=lambda: roll)[1].english()

    assert decide([seen(1, 5, now)], active=False) == "deactivated here"
    assert decide([]) == "no messages seen here"
    assert decide([seen(1, 30, now, 1), seen(42, 10, now, 2)]) == "the last message is mine"
    assert decide([seen(1, 7 * 60, now)]).startswith("silent for 7.0 h")
    assert decide([seen(1, 0.5, now)]) == "busy: someone spoke in the last minute"
    assert decide([seen(1, 5, now)], roll=0.5) == "roll 0.50 missed the chance 0.1"
    go, why = judge(now, [seen(1, 5, now)], me, active=True, max_silence=hours, chance=0.1, roll=lambda: 0.05)
    assert go and why.english() == "roll 0.05 within the chance 0.1"


def test_the_durable_grid_runs_a_missed_round_once_and_keeps_its_rhythm() -> None:
    due, every = NOON, timedelta(minutes=30)
    assert next_after(due, every, NOON - timedelta(minutes=1)) == NOON + every
    assert next_after(due, every, NOON) == NOON + every
    assert next_after(due, every, NOON + timedelta(minutes=95)) == NOON + timedelta(minutes=120)


def test_status_lines_are_one_clean_line_within_discords_limit() -> None:
    assert clean_status('"Counting barnacles by the pier."\nMore text') == "Counting barnacles by the pier."
    assert clean_status("Status: **mending nets**") == "mending nets"
    assert clean_status("  \n ") is None
    long = clean_status("word " * 60)
    assert long is not None and len(long) <= MAX_STATUS and long.endswith("…")


def test_reactions_are_for_warm_messages_after_mine_and_rate_limited() -> None:
    assert warm_stimuli("haha love that 🥰") and not warm_stimuli("the bus is late")
    assert aimed_at_me([seen(42, 1, NOON)], {42}) and not aimed_at_me([seen(7, 1, NOON)], {42})
    assert not aimed_at_me([], {42})
    gate = ReactionGate(2)
    assert gate.allow(1, NOON) and gate.allow(1, NOON + timedelta(minutes=1)) and gate.allow(2, NOON)
    assert not gate.allow(1, NOON + timedelta(minutes=59))
    assert gate.allow(1, NOON + timedelta(minutes=61))


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(("key", "value"), [("quiet_hours", "11pm-7am"), ("quiet_hours", "23-23"),
                                            ("timezone", "Mars/Olympus_Mons"), ("proactive_chance", "2")])
def test_a_malformed_time_setting_names_the_file_and_key(tmp_path: Path, key: str, value: str) -> None:
    config = tmp_path / "config.env"
    config.write_text(f"{key}={value}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(FINN, config, environ=SECRETS)
    assert (err.value.file, err.value.key) == (str(config), key)


def test_main_exits_2_on_a_malformed_quiet_hours(tmp_path: Path) -> None:
    config = tmp_path / "config.env"
    config.write_text("timezone=Europe/Paris\nquiet_hours=23h-7h\n")
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"discord_token", "anthropic_api_key"}}
    command = [sys.executable, str(PROJECT_ROOT / "main.py"), "--character", str(FINN), "--config",
               str(config)]
    result = subprocess.run(command, capture_output=True, text=True, env={**env, **SECRETS},
                            timeout=PROCESS_WAIT,
                            cwd=PROJECT_ROOT)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(config) in lines[0] and "quiet_hours" in lines[0]
