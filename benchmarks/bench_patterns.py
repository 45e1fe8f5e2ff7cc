"""Patterns against hostile text (issue 43): how long the reply path's regular expressions take on the worst
input of Discord's maximum length.

1. Triage of the message that froze the bot ("ok " x n + "x") at the issue's sizes and at 2,000 words
   (target: well under a millisecond each; the backtracking pattern took 7.8 s at 22 words).
2. For every entry point of tests/test_adversarial_patterns.py (each function that runs a pattern over text
   a person, a card or the model wrote): the worst time over its adversarial inputs (4,000 characters:
   repeats of its own alternatives, brackets, runs of one character) and the median.

Run: python -m benchmarks.bench_patterns [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bot.reply.deciding.triage import is_acknowledgement
from tests.test_adversarial_patterns import ENTRY_POINTS, inputs


def best_of(fn: object, text: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn(text)  # type: ignore[operator]  # each entry point takes one text
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, and every 4th input")
    args = parser.parse_args()
    repeat = 3 if args.quick else 20

    print("triage of 'ok ' x n + 'x' (target: well under 1 ms)")
    for words in (12, 16, 22, 30, 2000):
        text = "ok " * words + "x"
        took = best_of(is_acknowledgement, text, repeat)
        print(f"  {words:5d} words {len(text):5d} chars  {took * 1e6:8.1f} µs")

    print("\nworst and median time per entry point over its adversarial inputs (bound in the tests: 1 s)")
    rows = []
    for name, (fn, patterns) in ENTRY_POINTS.items():
        fn("warm up: Finn, the glade? 2026-11-25")
        texts = list(inputs(patterns))[:: 4 if args.quick else 1]
        times = [best_of(fn, t, 1 if args.quick else 2) for t in texts]
        worst = max(range(len(times)), key=times.__getitem__)
        rows.append((times[worst], statistics.median(times), name, texts[worst][:24]))
    for worst_s, median_s, name, sample in sorted(rows, reverse=True):
        print(f"  {worst_s * 1e3:8.2f} ms worst  {median_s * 1e3:7.3f} ms median  {name}  ({sample!r}...)")


if __name__ == "__main__":
    main()
