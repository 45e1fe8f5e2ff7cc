"""Audio for voice messages: any audio in, an Ogg/Opus clip with its duration and waveform out (through
ffmpeg), and speech from espeak-ng. Both are Debian packages the project's setup installs; nothing here
assumes them: a missing program is an AudioError naming it.

Discord shows a voice message from its ``duration_secs`` and ``waveform``: up to 256 amplitude bytes, one
per at least 100 ms of audio, base64-encoded.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import shutil
import tempfile
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ANALYSIS_RATE = 8000  # Hz of the mono PCM the waveform is drawn from (plenty for an outline)
MAX_WAVEFORM_POINTS = 256
POINT_SECONDS = 0.1  # Discord's clients sample at most once per 100 ms
OPUS_BITRATE = "32k"
CALL_RATE = 48_000  # Hz of the PCM a voice channel's Opus is encoded from


class AudioError(Exception):
    """Audio could not be made or converted (a missing program, a failing one, unusable input)."""


@dataclass(frozen=True)
class VoiceClip:
    """A Discord voice message's file and metadata."""

    ogg: bytes
    duration: float  # seconds
    waveform: str  # base64 of at most 256 amplitude bytes


def missing_programs(*names: str) -> list[str]:
    return [n for n in names if shutil.which(n) is None]


async def _run(argv: list[str], stdin: bytes, what: str) -> bytes:
    if shutil.which(argv[0]) is None:
        raise AudioError(f"{argv[0]} is not installed ({what})")
    pipe = asyncio.subprocess.PIPE
    process = await asyncio.create_subprocess_exec(*argv, stdin=pipe, stdout=pipe, stderr=pipe)
    try:
        out, err = await process.communicate(stdin)
    except asyncio.CancelledError:  # a deadline ran out: leave no program behind
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise AudioError(f"{argv[0]} failed ({what}): {lines[-1] if lines else f'exit {process.returncode}'}")
    return out


def wav_seconds(audio: bytes) -> float | None:
    """How long a WAV file lasts, from its header (None: not a WAV file ``wave`` reads)."""
    if not audio.startswith(b"RIFF"):
        return None
    try:
        with wave.open(io.BytesIO(audio), "rb") as w:
            rate = w.getframerate()
            return w.getnframes() / rate if rate else None
    except (wave.Error, EOFError):
        return None


async def audio_seconds(audio: bytes) -> float | None:
    """How long any audio lasts: a WAV's header, else ffprobe's reading of it (None: unknown, or ffprobe
    missing)."""
    seconds = wav_seconds(audio)
    if seconds is not None or not audio:
        return seconds
    with tempfile.TemporaryDirectory(prefix="kindred-voice-") as folder:
        path = Path(folder) / "audio"  # a file, not a pipe: Ogg's length is read from its last page
        path.write_bytes(audio)
        try:
            out = await _run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                              str(path)], b"", "duration")
        except AudioError:
            return None
    try:
        return max(0.0, float(out.decode().strip()))
    except ValueError:  # "N/A"
        return None


async def espeak(text: str, voice: str) -> bytes:
    """WAV speech of ``text`` (read from stdin, so no text is ever taken for an option)."""
    return await _run(["espeak-ng", "-v", voice or "en", "--stdout", "--stdin"], text.encode(), "speech")


async def to_voice_clip(audio: bytes) -> VoiceClip:
    """Any audio ffmpeg reads -> Ogg/Opus (mono, 48 kHz, as Discord's own voice messages) with its
    duration and waveform, in one ffmpeg run with two outputs."""
    if not audio:
        raise AudioError("no audio to convert")
    with tempfile.TemporaryDirectory(prefix="kindred-voice-") as folder:
        ogg_path = Path(folder) / "voice-message.ogg"
        pcm = await _run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", "pipe:0",
                          "-map", "0:a:0", "-ac", "1", "-ar", "48000", "-c:a", "libopus",
                          "-b:a", OPUS_BITRATE, "-f", "ogg", str(ogg_path),
                          "-map", "0:a:0", "-ac", "1", "-ar", str(ANALYSIS_RATE), "-f", "s16le", "pipe:1"],
                         audio, "conversion to Ogg/Opus")
        ogg = ogg_path.read_bytes() if ogg_path.exists() else b""
    samples = array("h")
    samples.frombytes(pcm[:len(pcm) // 2 * 2])
    if not ogg or not samples:
        raise AudioError("ffmpeg produced no audio")
    duration = len(samples) / ANALYSIS_RATE
    return VoiceClip(ogg, round(duration, 2), base64.b64encode(waveform(samples, duration)).decode())


def wav_to_call_pcm(audio: bytes) -> bytes | None:
    """A 16-bit PCM WAV (mono or stereo, any rate) -> 48 kHz 16-bit stereo PCM; None for anything else (and
    for a WAV with nothing in it). The rate is changed band-limited, by the FFT of the whole clip (a
    sentence: a few milliseconds)."""
    try:
        with wave.open(io.BytesIO(audio)) as w:
            if w.getsampwidth() != 2 or w.getnchannels() not in (1, 2) or w.getcomptype() != "NONE":
                return None
            rate, channels = w.getframerate(), w.getnchannels()
            frames = w.readframes(w.getnframes())  # (a streamed header's length is read to the end)
    except (wave.Error, EOFError):
        return None
    samples = np.frombuffer(frames[:len(frames) // (2 * channels) * 2 * channels], dtype="<i2")
    if not len(samples) or rate <= 0:
        return None
    wide = samples.reshape(-1, channels).astype(np.float64)
    if channels == 1:  # as ffmpeg makes mono stereo: each side 3 dB down, the same loudness
        wide = np.repeat(wide * math.sqrt(0.5), 2, axis=1)
    if rate != CALL_RATE:
        # padded with silence to a length whose FFT is fast and whose new length is whole: ``down`` times
        # a power of two in, ``up`` times it out
        n, common = len(wide), math.gcd(rate, CALL_RATE)
        up, down = CALL_RATE // common, rate // common
        blocks = 1 << max(0, math.ceil(math.log2(n / down)))
        spectrum = np.fft.rfft(wide, n=down * blocks, axis=0)
        resized = np.zeros((up * blocks // 2 + 1, 2), dtype=complex)
        kept = min(len(spectrum), len(resized))
        resized[:kept] = spectrum[:kept]
        wide = np.fft.irfft(resized, n=up * blocks, axis=0)[:math.ceil(n * up / down)] * (up / down)
    return np.clip(np.round(wide), -32768, 32767).astype("<i2").tobytes()


def waveform(samples: array[int], duration: float) -> bytes:
    """One byte per slice of the clip (at most 256, each at least 100 ms): its peak, scaled so the loudest
    slice is 255."""
    points = max(1, min(MAX_WAVEFORM_POINTS, math.floor(duration / POINT_SECONDS)))
    size = max(1, len(samples) // points)
    peaks = []
    for i in range(points):
        chunk = samples[i * size:(i + 1) * size]
        peaks.append(max(max(chunk), -min(chunk)) if chunk else 0)
    loudest = max(peaks) or 1
    return bytes(min(255, round(255 * p / loudest)) for p in peaks)


async def to_call_pcm(audio: bytes) -> bytes:
    """Any audio ffmpeg reads -> raw 48 kHz 16-bit stereo PCM, what a voice channel's Opus is encoded from.
    A plain 16-bit WAV (espeak-ng's, a speech server's) is converted in process, on a thread: starting
    ffmpeg costs tens of milliseconds on an idle machine and hundreds on a loaded one, before each sentence
    a call hears."""
    if not audio:
        raise AudioError("no audio to convert")
    if (pcm := await asyncio.to_thread(wav_to_call_pcm, audio)) is not None:
        return pcm
    return await _run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ar", "48000", "-ac", "2",
                       "pipe:1"], audio, "audio conversion")
