"""RTP packets of a voice channel, as Discord's voice server relays them: the transport encryption
``aead_xchacha20_poly1305_rtpsize`` (the one mode of discord.py's that Discord still offers).

The fixed header (with any CSRCs) and, when the X bit is set, the header extension's 4-byte header are
authenticated but clear; the extension's body and the payload are sealed together; a 4-byte nonce counter
ends the packet (the XChaCha20 nonce is that counter, zero-padded to 24 bytes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions

MODE = "aead_xchacha20_poly1305_rtpsize"
OPUS_PAYLOAD_TYPE = 0x78
OPUS_SILENCE = b"\xf8\xff\xfe"  # what a client sends (five times) when its member stops speaking
_TAG, _COUNTER = 16, 4


@dataclass(frozen=True)
class RtpFrame:
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes  # the Opus frame (under DAVE, still end-to-end encrypted)


def open_rtp(key: bytes, packet: bytes) -> RtpFrame | None:
    """The frame an RTP packet carries; None for anything else (RTCP, another payload type, a packet that
    is cut short or does not authenticate under ``key``)."""
    if len(packet) < 12 + _TAG + _COUNTER or packet[0] >> 6 != 2 or packet[1] & 0x7F != OPUS_PAYLOAD_TYPE:
        return None
    end = 12 + 4 * (packet[0] & 0x0F)
    extended = bool(packet[0] & 0x10)
    if extended:
        end += 4
    if len(packet) < end + _TAG + _COUNTER:
        return None
    nonce = packet[-_COUNTER:] + bytes(24 - _COUNTER)
    try:
        body = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            packet[end:-_COUNTER], packet[:end], nonce, key)
    except nacl.exceptions.CryptoError:
        return None
    if extended:
        words = struct.unpack_from(">H", packet, end - 2)[0]
        body = body[4 * words:]
    sequence, timestamp, ssrc = struct.unpack_from(">HII", packet, 2)
    return RtpFrame(sequence, timestamp, ssrc, body)
