"""Pictures for the tests, made byte by byte (no imaging library): a real PNG that browsers
show, and the first bytes of other kinds."""

from __future__ import annotations

import struct
import zlib

__all__ = ["GIF_HEADER", "jpeg_header", "png"]

GIF_HEADER = b"GIF89a" + struct.pack("<HH", 120, 40) + b"\x00\x00\x00"


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 16, 46)) -> bytes:
    """A PNG of ``width`` by ``height`` pixels of one colour, a real one that browsers show."""
    row = b"\x00" + bytes(colour) * width  # filter byte "none", then RGB pixels
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(row * height))
        + _chunk(b"IEND", b"")
    )


def jpeg_header(width: int, height: int) -> bytes:
    """The start of a baseline JPEG (SOI, an APP0 segment, a start-of-frame) of that size."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"
