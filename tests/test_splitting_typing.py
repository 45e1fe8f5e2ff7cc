"""Pure logic: message splitting and typing time."""

from __future__ import annotations

import random
from pathlib import Path

from bot.core.config import load_settings
from bot.reply.splitting import split_message, typing_time

ENV = {"DISCORD_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}


def test_short_text_is_one_part() -> None:
    assert split_message("hello", 2000) == ["hello"]


def test_paragraphs_then_sentences_then_words() -> None:
    para = "First sentence here. Second one follows! " * 20
    text = f"{para}\n\n{para}\n\n{para}"
    parts = split_message(text, 1000)
    assert all(len(p) <= 1000 for p in parts)
    assert all(p.endswith(("!", ".")) for p in parts)  # cut on sentence ends, never mid-word
    assert " ".join(parts).split() == text.split()


def test_words_are_never_cut() -> None:
    text = " ".join(f"word{i}" for i in range(2000))
    parts = split_message(text, 500)
    assert all(len(p) <= 500 for p in parts)
    assert " ".join(parts).split() == text.split()


def test_code_block_cut_in_two_is_closed_and_reopened() -> None:
    code = "\n".join(f"line_{i} = {i}" for i in range(400))
    text = f"Here is code:\n\n```python\n{code}\n```\nThat's it."
    parts = split_message(text, 2000)
    assert len(parts) > 1 and all(len(p) <= 2000 for p in parts)
    for part in parts:
        assert part.count("```") % 2 == 0, part[:80]  # every part renders on its own
    assert parts[1].startswith("```python\n")


def test_five_thousand_characters_fit_in_two_thousand_each() -> None:
    text = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 90)[:5000]
    parts = split_message(text, 2000)
    assert len(parts) >= 3 and all(len(p) <= 2000 for p in parts)


def test_typing_time_scales_with_length_and_is_clamped(tmp_path: Path) -> None:
    (tmp_path / "character.env").write_text('default_name="X"\ncore_prompt="p"\n')
    settings = load_settings(tmp_path, None, environ={**ENV, "typing_speed_cpm": "600",
                                                      "min_typing_time": "1",
                                                      "max_typing_time": "5", "typing_variance": "0"})
    assert typing_time("x" * 10, settings.typing) == 1.0  # 1 s at 600 cpm... clamped to the minimum
    assert typing_time("x" * 30, settings.typing) == 3.0
    assert typing_time("x" * 10_000, settings.typing) == 5.0
    varied = load_settings(tmp_path, None, environ={**ENV, "typing_speed_cpm": "600",
                                                    "typing_variance": "0.2",
                                                    "min_typing_time": "0", "max_typing_time": "100"})
    rng = random.Random(1)
    values = {round(typing_time("x" * 300, varied.typing, rng), 3) for _ in range(20)}
    assert len(values) > 1 and all(24.0 <= v <= 36.0 for v in values)
