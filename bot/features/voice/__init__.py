"""Voice: voice messages heard and answered (and, with ``voice_replies``, answered aloud as voice messages),
and the character in a server's voice channels, talking with its members.

* :mod:`.speech`: the speech-to-text and text-to-speech back-ends (``VoiceService``), each paid call held to
  the spending limits and recorded; what a reply is as it is spoken (``spoken_text``).
* :mod:`.audio`: audio conversions (ffmpeg, espeak-ng): a voice message's clip, a call's PCM.
* :mod:`.messages`: a voice message read before the reply (``VoiceMessages``, a ``Reader``); a reply said
  again as a voice message once posted (``VoiceMessageReplies``), as a write about its person.
* :mod:`.expecting`: what a transcription is told to expect (the speaker's language, the character's names).
* :mod:`.aloud`: the prompt part of a reply that will be spoken in a call (``SpokenReply``).
* :mod:`.calls`: the calls a server's members call the character into (``Calls``: /voice join, leave).
* :mod:`.setup`: what a call needs and lacks, said at start-up.
* In a call, the plain parts of hearing: :mod:`.segmenter` (a member's audio cut into utterances, WebRTC's
  voice activity detector), :mod:`.echo` (its own voice coming back through a member, told apart),
  :mod:`.hearing` (each member's utterances transcribed in order, their turns).
* The Discord side (voice messages' upload, the voice gateway, UDP, RTP, DAVE, the jitter buffer of RTP
  frames, the receiver, the talk and playing the answer into the call) is bot/discord/voice.py and
  bot/discord/voicechat/, as the layers require (a feature imports nothing of bot/discord); its slash
  commands: cogs/voice.py (``/bot voice``, server-wide, is its registered switch's, made as every switch's
  is; when a place is switched off or a switch changes, a call where it may no longer be is left:
  ``Calls.recheck``, its ``place_changed``); its settings: its own section (:mod:`.config`
  ``VoiceSettings``); what it is for people:
  docs/features.md. Tests: tests/test_voice*.py.

It keeps no rows of its own: a voice message's transcript is a message of the log (``[voice] ...``), deleted
with the rest of a person's by /forget_me. Its calls are made for a member's words (a voice message, a call's
utterance, an answer spoken to them), never of its own accord: they meet the daily limits a message meets
(``SpendingLimits.paid_call_refusal``), and no unprompted purpose is declared.

Its registration (bot/operator/registration.py): ``FEATURE`` below.
"""

from __future__ import annotations

from bot.core.i18n import N_
from bot.features.voice.aloud import SpokenReply
from bot.features.voice.calls import Calls
from bot.features.voice.config import VoiceSettings
from bot.features.voice.expecting import Expectations
from bot.features.voice.messages import VoiceMessageReplies, VoiceMessages
from bot.features.voice.setup import start_voice_checks
from bot.features.voice.speech import VoiceService
from bot.operator.registration import Contribution, Feature, Parts, Switch

# server-wide (a server has one call); a call where it may no longer be is left (place_changed)
CALLS = Switch("voice", "Let people call me into voice channels here (or not).",
               N_("people can call me into their voice channel with /voice join"),
               section=VoiceSettings, key="voice_channels", server_wide=True,
               state_text="on, off, or default (the voice_channels setting)")


def build(parts: Parts) -> Contribution:
    settings = parts.holder.current
    # Speech servers are paid like the model: each call recorded in the usage log and held to the same
    # spending limits.
    voice = VoiceService(parts.holder.follow(VoiceSettings), base_url=settings.models.openai_base_url,
                         api_key=settings.secrets.openai_api_key, usage=parts.store.usage,
                         spending=parts.spending, metrics=parts.metrics, privacy=parts.store.privacy,
                         # what a transcription is told to expect: the speaker's language, the names
                         expecting=Expectations(parts.store.servers, parts.store.style, parts.persona))
    # One line per thing voice lacks: programs, a speech-to-text backend, libopus; the speech servers a call
    # uses are asked in the background.
    voice.startup_problems()
    start_voice_checks(voice, settings.origins)
    if parts.reach is None:
        raise ValueError("the voice feature's calls need the reach rule (Parts.reach)")
    # the character in voice channels (/voice join, /voice leave); the client hands it its Discord side
    calls = Calls(parts.holder.follow(VoiceSettings), parts.places, voice, parts.reach, parts.switch(CALLS))
    spoken = SpokenReply()  # a reply to words said in a call: it will be spoken (every character's)
    return Contribution(prompt_parts=(spoken,),
                        readers=(VoiceMessages(parts.holder.follow(VoiceSettings), voice,
                                               parts.store.style),),
                        parts=(voice, calls, VoiceMessageReplies(voice, parts.store.privacy)),
                        place_changed=(calls.recheck,))


FEATURE = Feature(
    name="voice", settings=VoiceSettings, switches=(CALLS,),
    cogs=("cogs.voice",),
    build=build)
