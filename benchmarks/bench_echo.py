"""How far the bot's own voice coming back (echo) is from a member's speech, by the correlation the receiver
judges each frame with (bot/features/voice/echo.py), on the packet clock (no wire, exact).

The bot says a sentence (espeak-ng, one voice); it goes through the bot's Opus encoder and the member's
decoder, is attenuated and delayed as a member's speakers and microphone would send it back, and through the
member's Opus encoder and the bot's decoder: that is the echo. A member's own speech (espeak-ng, other
sentences and voices, some of another language) while the bot speaks is what must still count; and the two
mixed (a member speaking over the echo, double talk). For each loud frame judged, the correlation: reported
as the echo's lowest percentiles against the member's highest, over gains 1.0, 0.5 and 0.2 and delays 60,
150, 400 and 700 ms; and the share of each kind's loud frames taken for echo at ``THRESHOLD``.

Run: python -m benchmarks.bench_echo
"""

from __future__ import annotations

import subprocess
import time

import discord.opus
import numpy as np

from bot.discord.voicechat.receiver import ONSET_VOICED_FRAMES
from bot.features.voice.echo import THRESHOLD, EchoWindow, Played, Tapped

PCM_FRAME = 3840  # 20 ms of 48 kHz 16-bit stereo
BOT = [("en-us", "I think the harbour is lovely at this time of year, with the boats coming in."),
       ("en-us", "That reminds me of a story my grandmother told me about the sea and the wind.")]
MEMBER = [("en", "Wait, hold on a second, can I ask you something about that?"),
          ("fr", "Attends, je voudrais dire quelque chose avant que tu continues."),
          ("de", "Moment mal, das stimmt so nicht, lass mich kurz erklären."),
          ("en-us", "No no, that is not what I meant at all, listen to me.")]
GAINS = (0.0, 1.0, 0.5, 0.2)  # 0.0: the member's speech alone while the bot speaks (no echo)
DELAYS = (0.06, 0.15, 0.4, 0.7)


def speech(voice: str, line: str) -> bytes:
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", line], capture_output=True, check=True).stdout
    return subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ar", "48000", "-ac", "2",
                           "pipe:1"], input=wav, capture_output=True, check=True).stdout


def frames(pcm: bytes) -> list[bytes]:
    return [pcm[i:i + PCM_FRAME].ljust(PCM_FRAME, b"\0") for i in range(0, len(pcm), PCM_FRAME)]


def opus(pcm_frames: list[bytes]) -> list[bytes]:
    """Through one Opus generation (an encoder, a decoder), as a call's audio goes."""
    encoder, decoder = discord.opus.Encoder(), discord.opus.Decoder()
    return [decoder.decode(encoder.encode(f, encoder.SAMPLES_PER_FRAME)) for f in pcm_frames]


def scaled(frame: bytes, gain: float) -> np.ndarray:
    return np.frombuffer(frame, dtype="<i2").astype(np.float32) * gain


def to_pcm(samples: np.ndarray) -> bytes:
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def run(bot: bytes, member: bytes | None, gain: float,
        delay: float) -> tuple[list[float], list[float], int | None]:
    """The bot plays ``bot``; the member's client sends back its echo (``gain``, ``delay``) and, with
    ``member``, the member's speech over it from the bot's second 0.3. The correlation of each loud frame
    judged: (those of the echo alone, those with the member's speech in them), and the frames from the
    member's first loud one to the sixth not taken for echo (where the receiver tells their onset)."""
    played = Played()
    sent = frames(bot)
    heard = opus(sent)  # what the member's client decoded of the bot's audio
    lag = round(delay / 0.02)
    start = round(0.3 / 0.02)
    speech_frames = frames(member) if member is not None else []
    length = max(len(heard) + lag, start + len(speech_frames))
    mixed = []
    for n in range(length):
        total = np.zeros(PCM_FRAME // 2, dtype=np.float32)
        if 0 <= n - lag < len(heard):
            total += scaled(heard[n - lag], gain)
        if 0 <= n - start < len(speech_frames):
            total += scaled(speech_frames[n - start], 1.0)
        mixed.append(to_pcm(total))
    back = opus(mixed)  # the member's client encodes what its microphone took; the bot decodes it
    window = EchoWindow()
    tap = Tapped(played)
    echo, spoken = [], []
    first: int | None = None
    onset: int | None = None
    told = 0
    epoch = time.monotonic()
    for n in range(length):
        at = epoch + 1.0 + n * 0.02
        if n < len(sent):
            tap.frame(sent[n], at)
        mono = np.frombuffer(back[n], dtype="<i2")[::2].tobytes()
        echoed = window.judge(mono, played, at)
        if float(np.sqrt(np.mean(np.frombuffer(mono, "<i2").astype(np.float32) ** 2))) < 100:
            continue
        if at - played.last > 0.9:
            continue
        speaking = 0 <= n - start < len(speech_frames) and np.abs(
            np.frombuffer(speech_frames[n - start], "<i2")).max() > 500
        (spoken if speaking else echo).append(window.last)
        if speaking:
            first = n if first is None else first
            told += not echoed
            if told == ONSET_VOICED_FRAMES and onset is None:
                onset = n - first + 1
    return echo, spoken, onset


def main() -> None:
    bots = [speech(v, line) for v, line in BOT]
    members = [speech(v, line) for v, line in MEMBER]
    print(f"threshold {THRESHOLD}")
    for gain in GAINS:
        echo: list[float] = []
        spoken: list[float] = []
        onsets: list[int | None] = []
        for delay in DELAYS:
            for bot in bots:
                e, _, _ = run(bot, None, gain, delay)
                echo += e
                for member in members:
                    _, s, onset = run(bot, member, gain, delay)
                    spoken += s
                    onsets.append(onset)
        e_arr, s_arr = np.array(echo), np.array(spoken)
        if len(e_arr):
            print(f"gain {gain}: echo alone, {len(e_arr)} frames: {spread(e_arr, low=True)}")
        kind = "member's speech alone" if gain == 0.0 else "member speaking over the echo"
        print(f"gain {gain}: {kind}, {len(s_arr)} frames: {spread(s_arr, low=False)}")
        told = sorted(20 * o for o in onsets if o is not None)
        print(f"         its onset told (the {ONSET_VOICED_FRAMES}th loud frame not taken for echo) "
              f"{ONSET_VOICED_FRAMES * 20} ms at best, here median {told[len(told) // 2]} ms, slowest "
              f"{told[-1]} ms; never in {onsets.count(None)} of {len(onsets)} runs")


def spread(values: np.ndarray, *, low: bool) -> str:
    """The tail that matters (the echo's lowest, the member's highest) and the share taken for echo."""
    points = (0, 1, 5, 50) if low else (50, 95, 99, 100)
    tail = " ".join(f"p{p} {np.percentile(values, p):.3f}" for p in points)
    shares = " / ".join(f"{np.mean(values >= t):.1%}" for t in (0.7, 0.8, THRESHOLD, 0.9))
    return f"{tail}; taken for echo at 0.7 / 0.8 / {THRESHOLD} / 0.9: {shares}"

if __name__ == "__main__":
    main()
