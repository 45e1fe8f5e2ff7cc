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
the first sentence no longer waits for. DAVE on and off, and with a client that sends its silence frames
(Discord's, the end known at once) or one that sends its quiet as audio (the end is the receiver's to find:
its endpointing at work).

Endpointing alone (``--endpointing``, no wire, on the packet clock so the figures are exact): 32 utterances
rendered by espeak-ng in eight languages and scripts (English, French, German, Spanish, Russian, Mandarin,
Hindi, Arabic): a question; a sentence paused at its comma; a hesitation ("I think that ... we should go");
two sentences with a pause between. Each is cut by the receiver's segmenter as a call's would be (a pause
0.3 s, the full wait 0.6 s), the client sending its quiet as audio. The transcript of what was said up to
a pause is modelled two ways: as written (each clause with its own punctuation: "I went down to the
harbour," ends no sentence) and pessimistic (every fragment ends with a full stop, as Whisper often writes
one). Reported: end of speech -> end of turn (median, 90th percentile) and the utterances cut off (ended
before their last clause), beside the full wait alone.

A long first sentence (``--first-clause``): the answer begins with a 19-word sentence whose first clause
("Well, if you ask me honestly,") is said ahead, before the sentence is written whole; the same run with the
clause not said ahead (the first sentence waited for) beside it. DAVE on, silence frames.

Leaving while it speaks (``--stops``, ``--runs 20``): a call where the character is saying a long answer to
two members, then ``/voice leave`` (the interaction's answer against Discord's 3 s, the call left) or a
shutdown (against a service manager's 30 s stop window), DAVE on and off; each run a fresh bot, and the
count of runs within the window beside the median and the slowest.

The speculative end of turn (``--speculative``, no wire, the packet clock, the endpointing set): an answer
begun at a short pause whose transcript ends a sentence, said once the silence reached a longer one (and
when ready: Kindred's own time from the pause, a parameter), withdrawn if the member goes on first; the end
of speech -> first audio, the answers withdrawn unheard, the members cut off (the answer's audio begun
before their last clause) and the transcriptions made at pauses. Over the wire with the fakes answering at
once (``--instant --pause 0.1``): end of speech -> first audio packet, DAVE off and on, with its stages
timed inside the bot (the wait, the speech-to-text, the log write and decision, the model, the
text-to-speech, the rest of the hold, the send), beside the wait itself on the packet clock (the question
through Opus, its pause found by the segmenter, the hold after it: what no work of Kindred's shortens).

Run: python -m benchmarks.bench_voice [--quick] [--runs 3] [--endpointing] [--first-clause] [--stops]
[--speculative] [--instant --pause 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import discord.opus
import numpy as np

from bot.core.text import first_clause as clause_ahead
from bot.discord.voicechat import calls
from bot.features.voice.hearing import SpokenTurn, ends_sentence
from bot.features.voice.segmenter import FRAME_BYTES, Segmenter
from bot.features.voice.speech import VoiceService
from bot.reply import delivery
from tests.fakes.claude_server import Reply
from tests.fakes.speech_book import SpeechBook
from tests.fakes.voice_server import SPEAKING_TAIL
from tests.harness import GUILD_ID, USER2_ID, USER_ID, Harness, reply_requests
from tests.voice_support import VOICE_ID, speech, voice_harness

ASKED = "Finn, what tea would you make me?"
ANSWER = ("Chamomile, with a little honey. The kettle is on, and the cups are warming by the stove. Sit by "
          "the window while it steeps and tell me about your day.")
LONG_FIRST = ("Well, if you ask me honestly, I would make you a big pot of chamomile with a spoon of honey "
              "and a slice of lemon. Then we sit by the window and watch the rain.")
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


async def one_answer(dave: bool, silence_frames: bool = True, early: bool = True, answer: str = ANSWER,
                     ahead: bool = True) -> list[float]:
    calls.PAUSE_SECONDS = PAUSE if early else None  # read at /voice join
    # the first clause said ahead of its sentence, or (the before figure) no clause ever long enough
    delivery.first_clause = clause_ahead if ahead else (lambda _: "")
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-voice-"))
    h: Harness = await voice_harness(f"sqlite+aiosqlite:///{folder / 'bench.db'}", folder, dave=dave,
                                     stt_backend="openai", voice_channels="true", min_typing_time="0",
                                     max_typing_time="0")
    try:
        voice = h.discord.voice
        assert voice is not None
        h.openai.speech_book = book = SpeechBook()
        book.learn(ASKED, speech(ASKED))
        h.claude.script(Reply(answer, stream_delay=WRITING_PACE))
        for member in (USER_ID, USER2_ID):
            await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, member)
        await (await h.slash("voice", [{"name": "join", "type": 1, "options": []}])).message()
        if voice.dave:
            await voice.wait_for(lambda v: v.group is not None and v.group.active, what="the DAVE group")
        pcm = speech(ASKED) + (b"" if silence_frames else bytes(48_000 * 4 * 2))  # 2 s of quiet sent
        # paced as a client sends: 20 ms a frame
        speaking = asyncio.create_task(voice.speak(USER_ID, pcm, silence_frames=silence_frames))
        first_mark = await until(lambda: h.openai.heard)
        # The end of the words (not of the quiet espeak-ng leaves after): when the fake client sent the frame
        # of the last loud sample, less what of that frame followed it. The sender's own clock, not the
        # nominal 20 ms a frame, which a loaded machine stretches.
        ended = voice.speech_ends[USER_ID][-1] - (0.02 - last_loud(pcm) % 0.02)
        marks = [first_mark, await until(lambda: reply_requests(h)),
                 await until(lambda: h.discord.posted(VOICE_ID)),
                 await until(lambda: voice.heard.get(USER_ID))]
        # when the first audio packet arrived, kept by the fake voice server: it may come before the post
        bot_id = h.bot.user.id if h.bot is not None and h.bot.user is not None else 0
        conn = voice.connection(bot_id)
        if conn is not None and conn.audio_at:
            marks[-1] = conn.audio_at[0]
        written = await until(lambda: h.discord.posted(VOICE_ID)[0]["content"] == answer)
        await speaking
        return [*(b - a for a, b in zip([ended, *marks[:-1]], marks, strict=True)), written - ended]
    finally:
        await h.close()


INSTANT_STAGES = ("wait (end of speech -> transcription begun)", "speech-to-text",
                  "log write and decision (-> reply request)", "model (-> first sentence to speech)",
                  "text-to-speech (espeak-ng, made 48 kHz stereo)",
                  "the rest of the wait to the said-at silence (-> the turn committed)",
                  "send (SPEAKING, Opus, DAVE, UDP -> first packet arrived)")


async def one_instant(dave: bool, pause: float, said_at: float) -> list[float]:
    """End of speech -> first audio packet with the fakes answering at once (the model's answer whole at
    once), the client sending its quiet as audio; the stages timed inside the bot's process."""
    calls.PAUSE_SECONDS, calls.ANSWER_SECONDS = pause, said_at  # read at /voice join
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-voice-"))
    commit = SpokenTurn.commit
    h: Harness = await voice_harness(f"sqlite+aiosqlite:///{folder / 'bench.db'}", folder, dave=dave,
                                     stt_backend="openai", voice_channels="true", min_typing_time="0",
                                     max_typing_time="0")
    try:
        voice = h.discord.voice
        assert voice is not None and h.bot is not None
        service = h.bot.services.part(VoiceService)
        marks: dict[str, float] = {}
        transcribe, speak_in_call = service.transcribe, service.speak_in_call

        async def timed_transcribe(*args: Any, **kwargs: Any) -> Any:
            marks.setdefault("stt", time.monotonic())
            try:
                return await transcribe(*args, **kwargs)
            finally:
                marks.setdefault("stt_done", time.monotonic())

        async def timed_speak(*args: Any, **kwargs: Any) -> Any:
            marks.setdefault("tts", time.monotonic())
            try:
                return await speak_in_call(*args, **kwargs)
            finally:
                marks.setdefault("tts_done", time.monotonic())

        service.transcribe = timed_transcribe  # type: ignore[method-assign]
        service.speak_in_call = timed_speak  # type: ignore[method-assign]

        def timed_commit(turn: SpokenTurn) -> bool:
            try:
                return commit(turn)
            finally:
                marks.setdefault("commit", time.monotonic())

        SpokenTurn.commit = timed_commit  # type: ignore[method-assign,assignment]
        h.openai.speech_book = book = SpeechBook()
        book.learn(ASKED, speech(ASKED))
        h.claude.script(Reply(ANSWER))
        for member in (USER_ID, USER2_ID):
            await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, member)
        await (await h.slash("voice", [{"name": "join", "type": 1, "options": []}])).message()
        if voice.dave:
            await voice.wait_for(lambda v: v.group is not None and v.group.active, what="the DAVE group")
        pcm = speech(ASKED) + bytes(48_000 * 4 * 2)  # 2 s of quiet sent as audio
        speaking = asyncio.create_task(voice.speak(USER_ID, pcm, silence_frames=False))
        await until(lambda: voice.heard.get(USER_ID))
        ended = voice.speech_ends[USER_ID][-1] - (0.02 - last_loud(pcm) % 0.02)
        bot_id = h.bot.user.id if h.bot.user is not None else 0
        conn = voice.connection(bot_id)
        assert conn is not None and conn.audio_at
        [asked] = reply_requests(h)
        # (a first packet that raced the SPEAKING sent before it, read later by the fake's busy loop, counts)
        first = min([conn.audio_at[0], *[at for at in conn.early_at[:1] if conn.early <= SPEAKING_TAIL]])
        times = [ended, marks["stt"], marks["stt_done"], asked.received_at, marks["tts"], marks["tts_done"],
                 max(marks["commit"], marks["tts_done"]), first]
        await speaking
        await h.discord.wait_for_messages(VOICE_ID, 1)
        return [b - a for a, b in zip(times, times[1:], strict=False)]
    finally:
        SpokenTurn.commit = commit  # type: ignore[method-assign]
        await h.close()


def platform_wait(pcm: bytes, pause: float, said_at: float) -> float:
    """Seconds from the end of the words in ``pcm`` (48 kHz 16-bit stereo, its quiet after) to the silence an
    answer is said at, on the packet clock: the audio through Opus as a call carries it (its coding delays
    the detector's view of the end), the pause found by the receiver's segmenter, the rest of the hold
    after it. What no work of Kindred's shortens."""
    encoder, decoder = discord.opus.Encoder(application="voip"), discord.opus.Decoder()  # type: ignore[no-untyped-call]
    heard = b"".join(decoder.decode(encoder.encode(pcm[i:i + 3840], 960), fec=False)
                     for i in range(0, len(pcm) - 3840 + 1, 3840))
    mono = _mono(heard).tobytes()
    segmenter = Segmenter(max_seconds=15, end_silence_seconds=FULL, pause_seconds=pause)
    for i in range(len(mono) // FRAME_BYTES):
        segmenter.push(mono[i * FRAME_BYTES:(i + 1) * FRAME_BYTES])
        if segmenter.take_pause() is not None:
            return (i + 1) * 0.02 - last_loud(pcm) + (said_at - pause)
    raise AssertionError("no pause")


async def instant(runs: int, pause: float, said_at: float) -> None:
    wait = platform_wait(speech(ASKED) + bytes(48_000 * 4 * 2), pause, said_at)
    print(f"the wait itself (packet clock, through Opus): {wait * 1000:.0f} ms")
    for dave in (False, True):
        rows = [await one_instant(dave, pause, said_at) for _ in range(runs)]
        totals = [sum(r) for r in rows]
        print(f"DAVE {'on' if dave else 'off'}, begun at {pause:g} s, said at {said_at:g} s, instant fakes, "
              "quiet sent as audio: "
              f"end of speech -> first audio packet, median of {runs}: "
              f"{statistics.median(totals) * 1000:.0f} ms "
              f"(each: {', '.join(f'{t * 1000:.0f}' for t in totals)})")
        for i, stage in enumerate(INSTANT_STAGES):
            print(f"  {stage}: {statistics.median(r[i] for r in rows) * 1000:.0f} ms")


async def one_stop(dave: bool, leave: bool) -> float:
    """Seconds from ``/voice leave`` to its interaction answered (``leave``), or from the shutdown's start to
    its end, while the character speaks."""
    from tests.fakes.discord_components import RESPONSE_WINDOW
    from tests.test_voice_stops import bot_id, speaking_an_answer

    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-voice-"))
    h: Harness = await voice_harness(f"sqlite+aiosqlite:///{folder / 'bench.db'}", folder, dave=dave,
                                     stt_backend="openai", voice_channels="true")
    try:
        await speaking_an_answer(h)
        began = time.perf_counter()
        if leave:
            h.discord.response_window = RESPONSE_WINDOW  # Discord's own 3 s: a late answer is refused
            ix = await h.slash("voice", [{"name": "leave", "type": 1, "options": []}], user=USER2_ID)
            took = float((await ix.response())["at"]) - began
            await h.discord.wait_for(lambda d: d.in_voice(GUILD_ID, bot_id(h)) is None, what="the bot gone")
        else:
            assert h.bot is not None
            await asyncio.wait_for(h.bot.close(), 60.0)
            took = time.perf_counter() - began
        return took
    finally:
        await h.close()


async def stops(runs: int) -> None:
    for leave, window in ((True, 3.0), (False, 30.0)):
        for dave in (True, False):
            times = [await one_stop(dave, leave) for _ in range(runs)]
            within = sum(t < window for t in times)
            print(f"{'/voice leave answered' if leave else 'shutdown ended'} while speaking, DAVE "
                  f"{'on' if dave else 'off'}: {within} of {runs} within {window:.0f} s; median "
                  f"{statistics.median(times) * 1000:.0f} ms, slowest {max(times) * 1000:.0f} ms")


async def first_clause(runs: int) -> None:
    for ahead in (False, True):
        rows = [await one_answer(True, answer=LONG_FIRST, ahead=ahead) for _ in range(runs)]
        totals = [sum(r[:len(STAGES)]) for r in rows]
        print(f"long first sentence, its first clause {'said ahead' if ahead else 'not said ahead'}: end of "
              f"speech -> first audio packet, median of {runs}: {statistics.median(totals) * 1000:.0f} ms "
              f"(each: {', '.join(f'{t * 1000:.0f}' for t in totals)})")
        for i, stage in enumerate(STAGES):
            print(f"  -> {stage}: {statistics.median(r[i] for r in rows) * 1000:.0f} ms")


async def main(runs: int) -> None:
    for dave, silence_frames, early in ((False, True, True), (True, True, True), (False, False, True),
                                        (True, False, True), (False, False, False), (True, False, False)):
        rows = [await one_answer(dave, silence_frames, early) for _ in range(runs)]
        totals = [sum(r[:len(STAGES)]) for r in rows]
        client = ("silence frames" if silence_frames else "quiet sent as audio") + ("" if early else
                                                                                    ", the full wait only")
        print(f"DAVE {'on' if dave else 'off'}, {client}: end of speech -> first audio packet, median of "
              f"{runs}: {statistics.median(totals) * 1000:.0f} ms")
        for i, stage in enumerate(STAGES):
            print(f"  -> {stage}: {statistics.median(r[i] for r in rows) * 1000:.0f} ms")
        print(f"  (end of speech -> the whole answer written: "
              f"{statistics.median(r[-1] for r in rows) * 1000:.0f} ms)")


# (voice, [(clause, extra pause after it in seconds)]): espeak-ng leaves 0.3 s of quiet after a clause, 0.15 s
# after one that ends in a comma: pauses within a turn of 0.35 to 0.55 s, shorter than the full wait
UTTERANCES: list[tuple[str, list[tuple[str, float]]]] = [
    ("en", [("What tea would you make me?", 0)]),
    ("en", [("I went down to the harbour,", 0.2), ("and the boats were all gone.", 0)]),
    ("en", [("I think that", 0.25), ("we should leave tomorrow.", 0)]),
    ("en", [("It is late.", 0.05), ("Shall we go home?", 0)]),
    ("fr-fr", [("Quel thé me ferais-tu ?", 0)]),
    ("fr-fr", [("Je suis descendu au port,", 0.3), ("et les bateaux étaient partis.", 0)]),
    ("fr-fr", [("Je pense que", 0.05), ("nous devrions partir demain.", 0)]),
    ("fr-fr", [("Il est tard.", 0.15), ("On rentre à la maison ?", 0)]),
    ("de", [("Welchen Tee würdest du mir machen?", 0)]),
    ("de", [("Ich ging hinunter zum Hafen,", 0.4), ("und die Boote waren alle weg.", 0)]),
    ("de", [("Ich glaube, dass", 0.15), ("wir morgen abreisen sollten.", 0)]),
    ("de", [("Es ist spät.", 0.25), ("Gehen wir nach Hause?", 0)]),
    ("es", [("¿Qué té me prepararías?", 0)]),
    ("es", [("Bajé al puerto,", 0.2), ("y los barcos ya no estaban.", 0)]),
    ("es", [("Creo que", 0.25), ("deberíamos irnos mañana.", 0)]),
    ("es", [("Es tarde.", 0.05), ("¿Volvemos a casa?", 0)]),
    ("ru", [("Какой чай ты бы мне заварил?", 0)]),
    ("ru", [("Я спустился в гавань,", 0.3), ("и все лодки уже ушли.", 0)]),
    ("ru", [("Я думаю, что", 0.05), ("нам стоит уехать завтра.", 0)]),
    ("ru", [("Уже поздно.", 0.15), ("Пойдём домой?", 0)]),
    ("cmn", [("你会给我泡什么茶？", 0)]),
    ("cmn", [("我走到港口，", 0.4), ("船都已经走了。", 0)]),
    ("cmn", [("我觉得", 0.15), ("我们明天应该走。", 0)]),
    ("cmn", [("很晚了。", 0.25), ("我们回家吧？", 0)]),
    ("hi", [("तुम मेरे लिए कौन सी चाय बनाओगे?", 0)]),
    ("hi", [("मैं बंदरगाह गया,", 0.2), ("और सारी नावें जा चुकी थीं।", 0)]),
    ("hi", [("मुझे लगता है कि", 0.25), ("हमें कल चलना चाहिए।", 0)]),
    ("hi", [("देर हो गई है।", 0.05), ("क्या हम घर चलें?", 0)]),
    ("ar", [("أي شاي ستعد لي؟", 0)]),
    ("ar", [("نزلت إلى الميناء،", 0.3), ("وكانت القوارب قد رحلت.", 0)]),
    ("ar", [("أعتقد أن", 0.05), ("علينا أن نغادر غدا.", 0)]),
    ("ar", [("لقد تأخر الوقت.", 0.15), ("هل نعود إلى البيت؟", 0)]),
]
PAUSE, FULL = 0.5, 0.6  # bot/discord/voicechat/calls.py's PAUSE_SECONDS, the receiver's end of silence


def _mono(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2")[::2]


def _end_of_turn(frames: list[bytes], clause_ends: list[int], texts: list[str], *, pause: float | None,
                 pessimistic: bool) -> int | None:
    """The frame at which the turn ends (a pause whose transcript ends a sentence, or the full wait)."""
    segmenter = Segmenter(max_seconds=15, end_silence_seconds=FULL, pause_seconds=pause)
    for i, frame in enumerate(frames):
        if segmenter.push(frame) is not None:
            return i
        if segmenter.take_pause() is not None:
            heard_to = (i + 1) * FRAME_BYTES // 2  # samples so far: the clauses ended by now are in it
            said = [t for t, end in zip(texts, clause_ends, strict=True) if end <= heard_to]
            transcript = " ".join(said)
            if said and pessimistic and len(said) < len(texts):
                transcript = transcript.rstrip(",،，") + "."
            if said and ends_sentence(transcript):
                return i  # (the speech-to-text answering at once: the most a pause can cut)
    return None


def endpointing() -> None:
    variants = [("full wait", None, False)] + [
        (f"pause {p:g} s, {'pessimistic' if pessimistic else 'as written'}", p, pessimistic)
        for p in (0.25, PAUSE, 0.4, 0.5) for pessimistic in (False, True)]
    results: dict[str, list[tuple[float, bool]]] = {name: [] for name, _, _ in variants}
    for voice_name, clauses in UTTERANCES:
        pcm, ends = b"", []
        for text, extra in clauses:
            pcm += speech(text, voice_name)
            loud = np.flatnonzero(np.abs(_mono(pcm).astype(int)) > 500)
            ends.append(int(loud[-1]))
            pcm += bytes(int(48_000 * extra) * 4)
        pcm += bytes(48_000 * 4 * 2)  # 2 s of quiet, sent as audio
        mono = _mono(pcm).tobytes()
        frames = [mono[i:i + FRAME_BYTES] for i in range(0, len(mono) - FRAME_BYTES + 1, FRAME_BYTES)]
        texts = [t for t, _ in clauses]
        for name, pause, pessimistic in variants:
            at = _end_of_turn(frames, ends, texts, pause=pause, pessimistic=pessimistic)
            assert at is not None, (voice_name, texts)
            ended = (at + 1) * FRAME_BYTES // 2
            results[name].append(((ended - ends[-1]) / 48_000, ended < ends[-1]))
    print(f"Endpointing, {len(UTTERANCES)} utterances in 8 languages (packet clock, speech-to-text at once):")
    for name, rows in results.items():
        whole = sorted(latency for latency, cut in rows if not cut)
        cut = sum(c for _, c in rows)
        p90 = whole[int(0.9 * (len(whole) - 1))] if whole else 0.0
        print(f"  {name}: end of speech -> end of turn median {statistics.median(whole) * 1000:.0f} ms, "
              f"p90 {p90 * 1000:.0f} ms (of the {len(whole)} heard whole); cut off: {cut} of {len(rows)}")


def _speculative_turn(frames: list[bytes], clause_ends: list[int], texts: list[str], *, pause: float,
                      answer_at: float, pessimistic: bool, said_at: float = 0.0
                      ) -> tuple[int, int, bool, int]:
    """A call's speculative end of turn, on the packet clock: at each pause whose transcript ends a sentence
    an answer is begun, its first audio ``answer_at`` seconds later (Kindred's own time from the pause to the
    first audio packet), and not before the silence reached ``said_at`` seconds (calls.py's ANSWER_SECONDS);
    the member's speech going on before that withdraws it. Returns (the frame at which
    the answer's first audio plays, the answers withdrawn, whether it began before the last clause ended:
    the member cut off, stopped by barge-in and heard with the rest; the transcriptions made at pauses)."""
    segmenter = Segmenter(max_seconds=15, end_silence_seconds=FULL, pause_seconds=pause)
    lead = max(round(answer_at / 0.02), round((said_at - pause) / 0.02))  # frames from the pause to the audio
    due: int | None = None  # the frame the answer begun at a pause plays at
    withdrawn = pauses = 0
    for i, frame in enumerate(frames):
        if due is not None and i >= due:
            return i, withdrawn, i * FRAME_BYTES // 2 < clause_ends[-1], pauses
        if segmenter.push(frame) is not None:  # the full wait: the answer (begun or not) goes on from here
            return (due if due is not None else i + lead), withdrawn, False, pauses
        if segmenter.take_resumed() and due is not None:
            due, withdrawn = None, withdrawn + 1
        if segmenter.take_pause() is not None:
            pauses += 1
            heard_to = (i + 1) * FRAME_BYTES // 2
            said = [t for t, end in zip(texts, clause_ends, strict=True) if end <= heard_to]
            transcript = " ".join(said)
            if said and pessimistic and len(said) < len(texts):
                transcript = transcript.rstrip(",،，") + "."
            if said and ends_sentence(transcript):
                due = i + lead
    raise AssertionError("the turn never ended")


def speculative() -> None:
    """The speculative end of turn on the endpointing set: how soon the first audio, how many answers were
    withdrawn unheard, and how many members were cut off (the answer begun before their last clause)."""
    rendered = []
    for voice_name, clauses in UTTERANCES:
        pcm, ends = b"", []
        for text, extra in clauses:
            pcm += speech(text, voice_name)
            loud = np.flatnonzero(np.abs(_mono(pcm).astype(int)) > 500)
            ends.append(int(loud[-1]))
            pcm += bytes(int(48_000 * extra) * 4)
        pcm += bytes(48_000 * 4 * 2)
        mono = _mono(pcm).tobytes()
        frames = [mono[i:i + FRAME_BYTES] for i in range(0, len(mono) - FRAME_BYTES + 1, FRAME_BYTES)]
        rendered.append((frames, ends, [t for t, _ in clauses]))
    print(f"Speculative end of turn, {len(UTTERANCES)} utterances in 8 languages (packet clock):")
    for pause, said_at in SPECULATIONS:
        for answer_at in ANSWER_AT:
            for pessimistic in (False, True):
                rows = [_speculative_turn(f, e, t, pause=pause, answer_at=answer_at, pessimistic=pessimistic,
                                          said_at=said_at) for f, e, t in rendered]
                whole = sorted(((at + 1) * FRAME_BYTES // 2 - e[-1]) / 48_000
                               for (at, _, cut, _), (_, e, _) in zip(rows, rendered, strict=True) if not cut)
                p90 = whole[int(0.9 * (len(whole) - 1))] if whole else 0.0
                print(f"  begun at a {pause:g} s pause, said at {said_at:g} s of silence at the soonest, "
                      f"ready {answer_at * 1000:.0f} ms after the pause, "
                      f"{'pessimistic' if pessimistic else 'as written'}: end of speech -> first audio "
                      f"median "
                      f"{statistics.median(whole) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms; withdrawn unheard "
                      f"{sum(r[1] for r in rows)}; cut off {sum(r[2] for r in rows)} of {len(rows)}; "
                      f"transcriptions at pauses {sum(r[3] for r in rows)}")


ANSWER_AT = (0.1, 0.2, 0.3)  # Kindred's own time from a pause to the first audio packet (bench_voice's wire)
# (begun at a pause of, said at a silence of at the soonest; seconds)
SPECULATIONS = [(0.1, 0.3), (0.15, 0.3), (0.2, 0.2), (0.3, 0.3), (0.5, 0.5)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one run each")
    parser.add_argument("--endpointing", action="store_true", help="endpointing alone, no wire")
    parser.add_argument("--instant", action="store_true",
                        help="the fakes answering at once, the stages timed in the bot (with --pause)")
    parser.add_argument("--pause", type=float, default=calls.PAUSE_SECONDS or 0.1)
    parser.add_argument("--said-at", type=float, default=calls.ANSWER_SECONDS)
    parser.add_argument("--speculative", action="store_true",
                        help="the speculative end of turn on the endpointing set, no wire")
    parser.add_argument("--first-clause", action="store_true",
                        help="a long first sentence, its first clause said ahead or not")
    parser.add_argument("--stops", action="store_true",
                        help="/voice leave and a shutdown while it speaks, each run a fresh bot")
    options = parser.parse_args()
    if options.endpointing:
        endpointing()
    elif options.instant:
        asyncio.run(instant(1 if options.quick else options.runs, options.pause, options.said_at))
    elif options.speculative:
        speculative()
    elif options.first_clause:
        asyncio.run(first_clause(1 if options.quick else options.runs))
    elif options.stops:
        asyncio.run(stops(1 if options.quick else options.runs))
    else:
        asyncio.run(main(1 if options.quick else options.runs))
