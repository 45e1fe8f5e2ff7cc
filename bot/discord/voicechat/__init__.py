"""Hearing a voice channel: Kindred's own receiver of a call's audio (no released Python library receives
under DAVE, Discord's end-to-end encryption of voice).

discord.py's VoiceClient joins the call and sends; ``client.ListeningVoiceClient`` adds what it lacks: the
voice gateway's SPEAKING events (which member each SSRC is) and the UDP socket's packets, handed to
``receiver.VoiceReceiver``, which opens each RTP packet (``rtp.py``: the transport encryption), decrypts its
frame with the bot's DAVE session as that member's, decodes the Opus and cuts each member's audio into
utterances (``segmenter.py``: WebRTC's voice activity detector), each handed on as PCM.
"""
