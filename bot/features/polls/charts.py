"""A poll's bar chart as a PNG, with no imaging library: a tiny canvas, a 5x7 bitmap font and a PNG encoder.

Discord shows PNG attachments inline (it does not render SVG). A results chart is a few rectangles and
short labels, so a zlib-compressed RGB image written here (the PNG format is a signature and three
chunks) does the job in ~150 lines, without adding an imaging dependency (and a font of every script) to
every install. The font draws printable ASCII in capitals, so nothing on the chart is drawn unless the font
has every letter of it (:func:`drawable`): never a line of "?". Bars are labelled "1 KELP" where the font
draws every option, else by their number alone, all of them (:func:`labels_drawn`), and the results message
beside the chart lists the numbered options in the poll's words (bot/features/polls/results.py); the
question is left off where the font cannot draw it (the results message says it). The footer (the total of
votes) is in the poll's language where the font can draw it ("12 STIMMEN"); where it cannot (Cyrillic,
Polish, Japanese, Korean, Chinese), the total alone, which the poll's panel says in words.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

from bot.core.i18n import tn
from bot.core.numbers import percent

# Classic 5x7 LCD font: five column bytes per glyph, bit 0 at the top.
_FONT_HEX = {
    " ": "0000000000",
    "!": "00005f0000",
    '"': "0007000700",
    "#": "147f147f14",
    "$": "242a7f2a12",
    "%": "2313086462",
    "&": "3649562050",
    "'": "0000070000",
    "(": "001c224100",
    ")": "0041221c00",
    "*": "2a1c7f1c2a",
    "+": "08083e0808",
    ",": "0050300000",
    "-": "0808080808",
    ".": "0060600000",
    "/": "2010080402",
    "0": "3e5149453e",
    "1": "00427f4000",
    "2": "4261514946",
    "3": "2141454b31",
    "4": "1814127f10",
    "5": "2745454539",
    "6": "3c4a494930",
    "7": "0171090503",
    "8": "3649494936",
    "9": "064949291e",
    ":": "0036360000",
    ";": "0056360000",
    "<": "0814224100",
    "=": "1414141414",
    ">": "0041221408",
    "?": "0201510906",
    "@": "3249794136",
    "A": "7c1211127c",
    "B": "7f49494936",
    "C": "3e41414122",
    "D": "7f4141221c",
    "E": "7f49494941",
    "F": "7f09090901",
    "G": "3e4149497a",
    "H": "7f0808087f",
    "I": "00417f4100",
    "J": "2040413f01",
    "K": "7f08142241",
    "L": "7f40404040",
    "M": "7f020c027f",
    "N": "7f0408107f",
    "O": "3e4141413e",
    "P": "7f09090906",
    "Q": "3e4151215e",
    "R": "7f09192946",
    "S": "2649494932",
    "T": "01017f0101",
    "U": "3f4040403f",
    "V": "1f2040201f",
    "W": "3f4038403f",
    "X": "6314081463",
    "Y": "0708700807",
    "Z": "6151494543",
    "[": "007f414100",
    "\\": "0204081020",
    "]": "0041417f00",
    "^": "0402010204",
    "_": "4040404040",
    "`": "0001020400",
    "{": "0008364100",
    "|": "00007f0000",
    "}": "0041360800",
    "~": "1008081008",
}
FONT = {ch: bytes.fromhex(h) for ch, h in _FONT_HEX.items()}
GLYPH_W, GLYPH_H = 5, 7

Color = tuple[int, int, int]
BACKGROUND: Color = (49, 51, 56)  # Discord's dark theme, so the image sits in the chat
TEXT: Color = (242, 243, 245)
MUTED: Color = (148, 155, 164)
TRACK: Color = (64, 66, 73)
BAR: Color = (88, 101, 242)
WINNER: Color = (87, 242, 135)


class Canvas:
    def __init__(self, width: int, height: int, fill: Color) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(fill) * (width * height))

    def rect(self, x: int, y: int, w: int, h: int, color: Color) -> None:
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.width, x + w), min(self.height, y + h)
        if x1 <= x0 or y1 <= y0:
            return
        row = bytes(color) * (x1 - x0)
        for yy in range(y0, y1):
            start = (yy * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def text(self, x: int, y: int, text: str, color: Color, scale: int = 2) -> int:
        """Draw ``text`` (capitals) with its top-left at x, y; returns the x after it."""
        for ch in text.upper():
            glyph = FONT.get(ch, FONT["?"])
            for col, bits in enumerate(glyph):
                for row in range(GLYPH_H):
                    if bits >> row & 1:
                        self.rect(x + col * scale, y + row * scale, scale, scale, color)
            x += (GLYPH_W + 1) * scale
        return x

    def png(self) -> bytes:
        stride = self.width * 3
        raw = b"".join(
            b"\x00" + bytes(self.pixels[y * stride : (y + 1) * stride]) for y in range(self.height)
        )
        return encode_png(self.width, self.height, raw)


def encode_png(width: int, height: int, filtered_rows: bytes) -> bytes:
    """An 8-bit RGB PNG from rows that each start with their filter byte."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(filtered_rows, 9))
        + chunk(b"IEND", b"")
    )


def text_width(text: str, scale: int = 2) -> int:
    return len(text) * (GLYPH_W + 1) * scale


def fit(text: str, width: int, scale: int = 2) -> str:
    """``text`` cut (with "..") to fit ``width`` pixels."""
    flat = " ".join(text.split())
    limit = max(1, width // ((GLYPH_W + 1) * scale))
    return flat if len(flat) <= limit else flat[: max(1, limit - 2)].rstrip() + ".."


WIDTH = 640
PAD = 16
ROW_H = 30
BAR_H = 18
TITLE_H = 36


def drawable(text: str) -> bool:
    """Whether the font draws every letter of ``text`` (in capitals, as the chart shows it)."""
    return all(ch in FONT for ch in " ".join(text.split()).upper())


def labels_drawn(options: Sequence[str]) -> bool:
    """Whether the chart labels its bars with the options' words ("1 KELP"), else by number alone. All or
    none: a chart where some bars say words and others only numbers reads as if those were missing, and the
    numbered list beside it (bot/features/polls/results.py) is then the one place to read them all."""
    return all(drawable(option) for option in options)


def footer(total: int, language: str = "en") -> str:
    """The chart's last line, the total of votes in ``language`` ("12 Stimmen"); the number alone where the
    font lacks one of its letters (a line of "?" says nothing, and an English word is not the poll's)."""
    said = tn(language, "{count} vote", "{count} votes", total)
    return said if drawable(said) else str(total)


def chart_percent(share: float, language: str = "en") -> str:
    """A share as the poll's language writes a percentage ("40 %", "%40"), its no-break space drawn as a
    space; as English writes it where the font lacks one of its signs."""
    said = percent(share, language).replace("\u202f", " ").replace("\xa0", " ")
    return said if drawable(said) else percent(share, "en")


def render_bar_chart(title: str, options: Sequence[str], counts: Sequence[int],
                     language: str = "en") -> bytes:
    """Horizontal bars, one per option (number, short label, bar, votes and share); the leaders in green;
    the total under them in ``language`` (the poll's). ``title`` is left off where the font cannot draw it,
    and the labels are the options' numbers alone where it cannot draw them all (:func:`labels_drawn`)."""
    total = sum(counts)
    top = max(counts, default=0)
    title_h = TITLE_H if drawable(title) else 0
    height = PAD * 2 + title_h + ROW_H * len(options) + 18
    canvas = Canvas(WIDTH, height, BACKGROUND)
    if title_h:
        canvas.text(PAD, PAD, fit(title, WIDTH - 2 * PAD), TEXT)
    words = labels_drawn(options)
    label_w, figure_w = (170 if words else text_width(str(len(options)))), 110
    bar_x = PAD + label_w + 8
    bar_w = WIDTH - bar_x - figure_w - PAD
    for i, (option, count) in enumerate(zip(options, counts, strict=True)):
        y = PAD + title_h + i * ROW_H
        canvas.text(PAD, y + 2, fit(f"{i + 1} {option}", label_w) if words else str(i + 1), TEXT)
        canvas.rect(bar_x, y, bar_w, BAR_H, TRACK)
        filled = round(bar_w * count / top) if top else 0
        color = WINNER if count and count == top else BAR
        canvas.rect(bar_x, y, filled, BAR_H, color)
        share = f"{count} ({chart_percent(count / total if total else 0, language)})"
        canvas.text(WIDTH - PAD - text_width(share), y + 2, share, TEXT)
    canvas.text(PAD, height - PAD - 10, footer(total, language), MUTED, scale=1)
    return canvas.png()
