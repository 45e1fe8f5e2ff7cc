"""Lorebook matching on a large book: the time one reply spends finding the entries its messages trigger.

A lorebook of ``--keys`` plain keys (3,000 by default: two keys an entry, a few of them whole-word and
case-sensitive, as world-info files write them) is matched against the last four messages of a chat, each
reply's messages new. Reported: the median and worst time per reply, once the book's first reply (which
prepares it) is past, at several message lengths: the time should grow with the text, not with the text
times the keys. Times are the process's CPU time (what a reply holds a core for, whatever else runs).

Run: python -m benchmarks.bench_lorebook [--keys 3000] [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from bot.core.persona.lorebook import activate
from bot.core.persona.model import Lorebook, LoreEntry

SYLLABLES = ("ka", "lo", "mi", "ren", "tha", "vo", "sel", "dun", "ix", "bra", "quel", "or", "fen", "zu")


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def make_book(keys: int, rng: random.Random) -> Lorebook:
    entries = []
    for n in range(keys // 2):
        pair = (word(rng), f"{word(rng)} {word(rng)}")
        entries.append(LoreEntry(keys=pair, content=f"Lore entry {n}.", case_sensitive=n % 10 == 0,
                                 extensions={"match_whole_words": True} if n % 7 == 0 else {}))
    return Lorebook(entries=tuple(entries), token_budget=100_000)


def chat(rng: random.Random, book: Lorebook, characters: int) -> list[str]:
    """Four messages of about ``characters`` each: made-up words, now and then a key of the book."""
    keys = [k for e in book.entries for k in e.keys]
    messages = []
    for _ in range(4):
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < characters:
            words.append(rng.choice(keys) if rng.random() < 0.02 else word(rng))
        messages.append(" ".join(words))
    return messages


def per_reply(book: Lorebook, rng: random.Random, characters: int, replies: int) -> list[float]:
    times = []
    for _ in range(replies):
        messages = chat(rng, book, characters)
        started = time.process_time()
        activate(book, messages)
        times.append(time.process_time() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="fewer replies")
    args = parser.parse_args()
    rng = random.Random(13)
    book = make_book(args.keys, rng)
    replies = 5 if args.quick else 30
    started = time.process_time()
    activate(book, chat(rng, book, 200))
    print(f"lorebook of {sum(len(e.keys) for e in book.entries):,} keys; first reply (prepares the book): "
          f"{(time.process_time() - started) * 1000:.1f} ms")
    for characters in (100, 500, 2000):
        times = per_reply(book, rng, characters, replies)
        median, worst = statistics.median(times) * 1000, max(times) * 1000
        print(f"  4 messages of {characters:>5,} characters: median {median:7.2f} ms, "
              f"worst {worst:7.2f} ms of CPU a reply")


if __name__ == "__main__":
    main()
