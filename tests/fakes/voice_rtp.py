"""The far end of a voice connection's UDP socket, as Discord's voice servers speak it: IP discovery, RTP
packets under the transport encryption ``aead_xchacha20_poly1305_rtpsize`` (PyNaCl), Opus in 20 ms frames.

Written from Discord's documentation of voice connections, apart from Kindred's receiver, so that each checks
the other: what a member's client sends (RTP with a one-byte header extension, as Discord's clients send
their audio level) and what the fake peer reads back of the bot's audio.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import nacl.bindings

RTP_VERSION = 0x80  # version 2, no padding, no extension, no CSRC
RTP_EXTENSION = 0x10  # the X bit
OPUS_PAYLOAD_TYPE = 0x78  # 120, the dynamic payload type Discord uses for Opus
ONE_BYTE_EXTENSIONS = 0xBEDE  # RFC 8285's profile of one-byte header extensions
OPUS_SILENCE = b"\xf8\xff\xfe"  # the frame a client sends (five times) when it stops speaking
MODES = ("aead_aes256_gcm_rtpsize", "aead_xchacha20_poly1305_rtpsize")  # what Discord offers today
DISCOVERY_REQUEST, DISCOVERY_RESPONSE = 1, 2
DISCOVERY_SIZE = 74


def discovery_response(ssrc: int, ip: str, port: int) -> bytes:
    """IP discovery's answer: type 2, length 70, the SSRC, the address as seen (NUL-padded), the port."""
    packet = bytearray(DISCOVERY_SIZE)
    struct.pack_into(">HHI", packet, 0, DISCOVERY_RESPONSE, 70, ssrc)
    raw = ip.encode("ascii")
    packet[8:8 + len(raw)] = raw
    struct.pack_into(">H", packet, DISCOVERY_SIZE - 2, port)
    return bytes(packet)


def parse_discovery(packet: bytes) -> int | None:
    """The SSRC of an IP discovery request, or None for anything else."""
    if len(packet) != DISCOVERY_SIZE:
        return None
    kind, length, ssrc = struct.unpack_from(">HHI", packet, 0)
    return ssrc if kind == DISCOVERY_REQUEST and length == 70 else None


def _nonce(counter: int) -> bytes:
    return struct.pack(">I", counter) + bytes(20)


@dataclass
class RtpPacket:
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes  # the Opus frame (end-to-end encrypted under DAVE), the header extension's body removed


def seal(key: bytes, sequence: int, timestamp: int, ssrc: int, payload: bytes, counter: int, *,
         extension: bytes | None = b"\x10\x7f\x00\x00") -> bytes:
    """An RTP packet as a client sends it under ``aead_xchacha20_poly1305_rtpsize``: the fixed header and,
    with ``extension`` (whole 32-bit words of one-byte elements; by default an audio level), the extension's
    4-byte header are authenticated but clear; the extension's body and the payload are encrypted; the
    4-byte nonce counter follows."""
    first = RTP_VERSION | (RTP_EXTENSION if extension is not None else 0)
    header = struct.pack(">BBHII", first, OPUS_PAYLOAD_TYPE, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
    body = payload
    if extension is not None:
        assert len(extension) % 4 == 0
        header += struct.pack(">HH", ONE_BYTE_EXTENSIONS, len(extension) // 4)
        body = extension + payload
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(body, header, _nonce(counter), key)
    return header + sealed + struct.pack(">I", counter)


def open_packet(key: bytes, packet: bytes) -> RtpPacket | None:
    """Read an RTP packet under ``aead_xchacha20_poly1305_rtpsize``; None when it is not one, or when it does
    not authenticate (Discord drops such packets without a word)."""
    if len(packet) < 12 + 16 + 4 or packet[0] >> 6 != 2:
        return None
    csrc = packet[0] & 0x0F
    end = 12 + 4 * csrc
    extended = bool(packet[0] & RTP_EXTENSION)
    if extended:
        end += 4
    if len(packet) < end + 16 + 4:
        return None
    header, sealed, counter = packet[:end], packet[end:-4], packet[-4:]
    try:
        body = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, header, counter + bytes(20),
                                                                        key)
    except Exception:
        return None
    if extended:
        words = struct.unpack_from(">H", packet, end - 2)[0]
        body = body[4 * words:]
    sequence, timestamp, ssrc = struct.unpack_from(">HII", packet, 2)
    return RtpPacket(sequence, timestamp, ssrc, body)
