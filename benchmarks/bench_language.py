"""The language of short chat messages (bot/core/language.py): accuracy and cost per message.

The messages are tests/data/chat_languages.tsv: 20 short chat messages in each of Discord's big languages
(English, Spanish, Portuguese, German, French, Russian, Polish, Turkish, Japanese, Korean, Chinese), written
for this. A message is right when its language is guessed, unknown when the guard says it does not tell (no
harm: no language-specific reading), wrong otherwise (the harm to avoid). Then, for lexical recall
(memory/lexical.py), the cost of the terms of a message with its language guessed, and the time words
(memory/timewords.py) of a question about the past.

Run: python -m benchmarks.bench_language [--rounds N]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.core import language
from memory import lexical, timewords

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "chat_languages.tsv"


def messages() -> list[tuple[str, str]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, text = line.split("\t", 1)
            rows.append((code, text))
    return rows


def per_message_us(fn: Callable[[str], object], texts: list[str], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            fn(text)
    return (time.perf_counter() - started) / (rounds * len(texts)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    language.load()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    timewords.warm()
    tables = time.perf_counter() - started
    rows = messages()
    right, unknown, wrong = Counter[str](), Counter[str](), Counter[str]()
    mistakes = []
    for code, text in rows:
        found = language.detect(text)
        if found == code:
            right[code] += 1
        elif found is None:
            unknown[code] += 1
        else:
            wrong[code] += 1
            mistakes.append(f"{code} read as {found}: {text}")
    codes = sorted({c for c, _ in rows})
    print(f"model load {loaded * 1000:.0f} ms, time-word tables {tables * 1000:.0f} ms")
    print(f"{'lang':<5}{'right':>6}{'unknown':>8}{'wrong':>6}")
    for code in codes:
        print(f"{code:<5}{right[code]:>6}{unknown[code]:>8}{wrong[code]:>6}")
    n = len(rows)
    shares = [sum(c.values()) / n for c in (right, unknown, wrong)]
    print(f"all  {shares[0]:>6.1%}{shares[1]:>8.1%}{shares[2]:>6.1%}  ({n} messages)")
    for line in mistakes:
        print("  ", line)
    texts = [t for _, t in rows]
    now = datetime.now(UTC)
    print(f"detect: {per_message_us(language.detect, texts, args.rounds):.1f} us a message")
    print(f"lexical terms (language guessed): {per_message_us(lexical.terms, texts, args.rounds):.1f} us")
    asked = per_message_us(lambda t: timewords.asked(t, now), texts, args.rounds)
    print(f"time words, asked: {asked:.1f} us")


if __name__ == "__main__":
    main()
