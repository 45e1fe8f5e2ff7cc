"""A voice channel's answer latency, over the real wire with the fakes answering at once: from the end of a
member's speech (the fake peer's last packet of it sent) to the first audio packet of the answer reaching
the member's client, with the breakdown (each on the benchmark's clock, polled every millisecond):

* utterance ended -> transcription request (the end of speech detected: the client's silence frames or the
  pause; the WAV made and sent);
* -> reply request to Claude (the transcript back, logged, the decision);
* -> answer posted in the voice channel's chat (its first sentence: the reply is streamed to a call);
* -> first audio packet (speech synthesis of the first sentence, espeak-ng here, Opus, DAVE, UDP).

The fake Claude writes the answer at a model's pace (16 characters every 50 ms, about 80 tokens a second), so
the last figure, the whole answer written (the chat's message edited to it), shows how much of the writing
the first sentence no longer waits for. DAVE on and off. Run: python -m benchmarks.bench_voice [--quick]
[--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.fakes.claude_server import Reply
from tests.fakes.speech_book import SpeechBook
from tests.harness import GUILD_ID, USER2_ID, USER_ID, Harness, reply_requests
from tests.voice_support import VOICE_ID, speech, voice_harness

ASKED = "Finn, what tea would you make me?"
ANSWER = ("Chamomile, with a little honey. The kettle is on, and the cups are warming by the stove. Sit by "
          "the window while it steeps and tell me about your day.")
WRITING_PACE = 0.05  # seconds between the fake model's 16-character pieces
STAGES = ("transcription request", "reply request", "answer posted", "first audio packet")


def last_loud(pcm: bytes) -> float:
    """Seconds into 48 kHz 16-bit stereo PCM of its last loud sample."""
    samples = np.abs(np.frombuffer(pcm, dtype="<i2")[::2].astype(int))
    return float(np.flatnonzero(samples > 500)[-1]) / 48_000


async def until(check: Callable[[], object]) -> float:
    for _ in range(60_000):  # a minute at most
        if check():
            break
        await asyncio.sleep(0.001)
    return time.monotonic()


async def one_answer(dave: bool) -> list[float]:
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-voice-"))
    h: Harness = await voice_harness(f"sqlite+aiosqlite:///{folder / 'bench.db'}", folder, dave=dave,
                                     stt_backend="openai", voice_channels="true", min_typing_time="0",
                                     max_typing_time="0")
    try:
        voice = h.discord.voice
        assert voice is not None
        h.openai.speech_book = book = SpeechBook()
        book.learn(ASKED, speech(ASKED))
        h.claude.script(Reply(ANSWER, stream_delay=WRITING_PACE))
        for member in (USER_ID, USER2_ID):
            await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, member)
        await (await h.slash("voice", [{"name": "join", "type": 1, "options": []}])).message()
        if voice.dave:
            await voice.wait_for(lambda v: v.group is not None and v.group.active, what="the DAVE group")
        pcm = speech(ASKED)
        started = time.monotonic()
        speaking = asyncio.create_task(voice.speak(USER_ID, pcm))  # paced as a client sends: 20 ms a frame
        ended = started + last_loud(pcm)  # the end of the words, not of the quiet espeak-ng leaves after
        marks = [await until(lambda: h.openai.heard), await until(lambda: reply_requests(h)),
                 await until(lambda: h.discord.posted(VOICE_ID)),
                 await until(lambda: voice.heard.get(USER_ID))]
        written = await until(lambda: h.discord.posted(VOICE_ID)[0]["content"] == ANSWER)
        await speaking
        return [*(b - a for a, b in zip([ended, *marks[:-1]], marks, strict=True)), written - ended]
    finally:
        await h.close()


async def main(runs: int) -> None:
    for dave in (False, True):
        rows = [await one_answer(dave) for _ in range(runs)]
        totals = [sum(r[:len(STAGES)]) for r in rows]
        print(f"DAVE {'on' if dave else 'off'}: end of speech -> first audio packet, median of {runs}: "
              f"{statistics.median(totals) * 1000:.0f} ms")
        for i, stage in enumerate(STAGES):
            print(f"  -> {stage}: {statistics.median(r[i] for r in rows) * 1000:.0f} ms")
        print(f"  (end of speech -> the whole answer written: "
              f"{statistics.median(r[-1] for r in rows) * 1000:.0f} ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one run each")
    options = parser.parse_args()
    asyncio.run(main(1 if options.quick else options.runs))
