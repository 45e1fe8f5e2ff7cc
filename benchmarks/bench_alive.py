"""Hot-path cost of feelings and style mirroring: what every answered message adds (target: under 0.2 ms).

Per message, as the bot runs it: before the reply, the feeling's prompt block (the state advanced to now,
its label and guidance) and the author's style line (the stored profile parsed, or found parsed, and its
guidance); after the reply, the emotion update (text signals, stimuli, saturation) and the style update (the
profile learnt from the message and serialized for the store). Then, separately, the two writes that follow
a reply on SQLite (the feeling saved to global state, the profile learnt in one transaction with the consent
check): after the answer is posted, never before it. And the feelings toward each person and in each channel
on SQLite: before the reply, the stored feeling toward the author and the channel's read and made into the
state line; after it, the exchange (its language-neutral signs, standing for the model's judgement) and both
written back (with the character's own).
Run: python -m benchmarks.bench_alive [--quick] [--messages N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

from benchmarks.common import percentile, summary_ms, temp_sqlite_url
from bot.alive.appraisal import appraise
from bot.alive.feelings import Feelings
from bot.alive.style import StyleMirror, StyleProfile, guidance
from bot.core.localtime import LocalTime
from bot.core.persona.model import Persona
from bot.core.stages import Incoming
from database.records import SeenMessage
from database.store import Store
from memory.consent import Consent
from tests.place_support import place

TARGET_MS = 0.2
WORDS = ("the tide is high today and the kelp looks great thanks finn lol idk tbh what do you think about "
         "crabs wow no way love it shut up you are awesome haha gonna swim later please could you tell me "
         "more about the harbour i appreciate it").split()
EXTRAS = ("", "!", "?", " 😂", " <3", " :)", "...", " 🐟🐟")


def corpus(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 30)))
        text = text.capitalize() if rng.random() < 0.5 else text
        out.append(text + rng.choice(EXTRAS))
    return out


def hot_path(messages: list[str], users: int = 50) -> tuple[list[float], list[float], list[float]]:
    """(emotion, style, everything) seconds per message, on the objects the bot uses."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    clock = [start]
    paris = LocalTime.of("Europe/Paris", "23-7")
    feelings = Feelings(None, "bench", paris, lambda: clock[0])  # type: ignore[arg-type]
    mirror = StyleMirror(None, Consent(None, None, "all"))  # type: ignore[arg-type]
    stored: dict[int, str] = {}
    emotion_s, style_s, total_s = [], [], []
    for i, text in enumerate(messages):
        clock[0] = start + timedelta(seconds=37 * i)  # a message every 37 s: the state moves between them
        user = i % users
        t0 = time.perf_counter()
        block = feelings.block()  # before the reply: the stable prompt part
        t1 = time.perf_counter()
        line = guidance(mirror.parse(stored.get(user)), f"user{user}")
        t2 = time.perf_counter()
        feelings.feel(appraise(text))  # after the reply: the exchange moves the feeling
        t3 = time.perf_counter()
        stored[user] = mirror.learnt(stored.get(user), text)
        t4 = time.perf_counter()
        assert block and (line or i < 3 * users)
        emotion_s.append((t1 - t0) + (t3 - t2))
        style_s.append((t2 - t1) + (t4 - t3))
        total_s.append(t4 - t0)
    return emotion_s, style_s, total_s


async def writes(messages: list[str], users: int = 50) -> list[float]:
    """Seconds of the after-reply writes per exchange on a scratch SQLite database."""
    store = await Store(temp_sqlite_url("alive.db")).open()
    now = datetime.now(UTC)
    for user in range(1, users + 1):  # the authors exist, as their logged messages would have made them
        await store.log.log_message(SeenMessage(user, 10, 1, user, f"user{user}", False, False, "hi", now))
    feelings = Feelings(store.state, "bench", LocalTime.of("UTC", ""))
    mirror = StyleMirror(store.style, Consent(store.servers, store.people, "all"))
    out = []
    for i, text in enumerate(messages):
        t0 = time.perf_counter()
        feelings.feel(appraise(text))
        await feelings.save()
        await mirror.learn(1 + i % users, text)
        out.append(time.perf_counter() - t0)
    profile = await store.style.get(1)
    assert profile is not None and StyleProfile.from_json(profile).messages > 0
    await store.close()
    return out


async def relationships(messages: list[str], users: int = 50) -> tuple[list[float], list[float]]:
    """(before, after) seconds per exchange of the feelings per person and per channel, on SQLite."""
    store = await Store(temp_sqlite_url("regard.db")).open()
    now = datetime.now(UTC)
    for user in range(1, users + 1):
        await store.log.log_message(SeenMessage(user, 10, 1, user, f"user{user}", False, False, "hi", now))
    feelings = Feelings(store.state, "bench", LocalTime.of("UTC", ""), rows=store.feelings)
    persona = Persona(name="Finn", system_prompt="You are Finn.")
    before, after = [], []
    for i, text in enumerate(messages):
        user = 1 + i % users
        msg = Incoming(message_id=10_000 + i, author_id=user,
                       author_name=f"user{user}", content=text, created_at=now,
                       place=place(10 + i % 3, False, 1))
        t0 = time.perf_counter()
        line = await feelings.line(persona, user, msg.author_name, "Calm.", msg.channel_id)
        t1 = time.perf_counter()
        await feelings.exchange(msg)
        t2 = time.perf_counter()
        assert line.startswith("## How you feel right now")
        before.append(t1 - t0)
        after.append(t2 - t1)
    await store.close()
    return before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="2,000 messages (as run_all --quick passes it on)")
    parser.add_argument("--messages", type=int, default=None, help="messages (default 20,000)")
    args = parser.parse_args()
    n = args.messages or (2_000 if args.quick else 20_000)
    messages = corpus(n)
    hot_path(messages[:500])  # warm up (regex compilation, caches)
    emotion, style, total = hot_path(messages)
    print(f"emotion update per message (prompt block + exchange): {summary_ms(emotion)}")
    print(f"style update per message (guidance + learning):       {summary_ms(style)}")
    median_ms = percentile([t * 1000 for t in total], 50)  # the mean also carries the machine's hiccups
    verdict = "within" if median_ms < TARGET_MS else "OVER"
    print(f"both, per message: {summary_ms(total)}; target < {TARGET_MS} ms (median): {verdict}")
    after = asyncio.run(writes(messages[: min(n, 2_000)]))
    print(f"after the reply, on SQLite (feeling saved + profile learnt, one exchange): {summary_ms(after)}")
    read, moved = asyncio.run(relationships(messages[: min(n, 2_000)]))
    print(f"toward the person and the channel, on SQLite: before the reply (read + state line) "
          f"{summary_ms(read)}; after it (judged + written) {summary_ms(moved)}")


if __name__ == "__main__":
    main()
