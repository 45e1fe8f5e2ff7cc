"""Talking in a voice channel: Kindred's own receiver of a call's audio (no released Python library receives
under DAVE, Discord's end-to-end encryption of voice), and what hearing and speaking there are made of.

discord.py's VoiceClient joins the call and sends; ``client.ListeningVoiceClient`` adds what it lacks: the
voice gateway's SPEAKING, CLIENTS_CONNECT and CLIENT_DISCONNECT events (which member each SSRC is, who else
is in the call: it can leave a call it is alone in, and stop its playback when a member speaks over it) and
the UDP socket's packets, handed to ``receiver.VoiceReceiver``, which on a thread of its own opens each RTP
packet (``rtp.py``: the transport encryption), takes each member's no faster than real time, puts them back in
order (``jitter.py``), decrypts each frame with the bot's DAVE session as that member's, decodes the Opus and
cuts each member's audio into utterances on the member's own packet clock (bot/features/voice/segmenter.py:
WebRTC's voice activity detector; a short pause handed on too, for an early end of turn).
bot/features/voice/hearing.py's ``Hearing`` turns utterances into each member's ``[voice]`` words with the
speech-to-text backend of voice messages; ``speaking.play`` plays the character's speech into the call.
``calls.DiscordCalls`` joins a channel for bot/features/voice/calls.py (``/voice join``, cogs/voice.py), and
``talk.CallTalk`` hands each member's words to the reply sequence as a message in the channel's chat and
posts and speaks the answer.
"""
