"""Pictures made with Pillow for the tests: real files of each kind, with EXIF orientation and
GPS when asked, and hand-made headers for files that claim more pixels than they hold; and
byte-made ones for the digest's logo (a PNG of one colour, the first bytes of a JPEG and a
GIF)."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import timedelta

from PIL import Image
from sqlalchemy import Engine

from publisher import store
from publisher.media import library
from publisher.settings import Settings
from tests.support import NOW

__all__ = ["GIF_HEADER", "huge_png", "jpeg_header", "keep_addresses", "picture", "png"]

GIF_HEADER = b"GIF89a" + struct.pack("<HH", 120, 40) + b"\x00\x00\x00"


def picture(
    width: int = 1200,
    height: int = 800,
    kind: str = "JPEG",
    *,
    orientation: int = 0,
    gps: bool = False,
    colour: tuple[int, int, int] = (200, 40, 40),
) -> bytes:
    """A ``kind`` picture of ``width`` x ``height``, its left half ``colour`` and its right
    half blue (so a rotation can be seen); EXIF orientation and a GPS position if asked."""
    image = Image.new("RGB", (width, height), colour)
    image.paste((20, 40, 220), (width // 2, 0, width, height))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif[0x010F] = "TestCam"
        exif[0x8825] = {1: "N", 2: (37.0, 33.0, 59.0), 3: "E", 4: (126.0, 58.0, 41.0)}
    out = io.BytesIO()
    options = {"exif": exif.tobytes()} if (orientation or gps) and kind in ("JPEG", "WEBP") else {}
    image.save(out, kind, **options)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A PNG whose header says ``width`` x ``height`` (a few hundred bytes: a bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * (1 + 3 * min(width, 64)) * 4)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def keep_addresses(engine: Engine, settings: Settings, *, alt: str = "") -> list[str]:
    """What the daemon's keeper does, with no network: each image address stories wait for
    gets a picture made here (1600 x 900), kept as if fetched from there; the addresses."""
    with store.reading(engine) as session:
        addresses = store.unfetched_images(session, now=NOW + timedelta(days=3650), limit=1000)
    for n, address in enumerate(addresses):
        data = picture(1600, 900, colour=(n % 256, 90, 90))
        kept = library.keep_processed(engine, library.process(settings, data),
                                      library.Words(alt), actor="test", now=NOW,
                                      source_url=address)  # fmt: skip
        with store.writing(engine) as session:
            store.attach_by_url(session, address, kept.id, now=NOW)
    return addresses


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 16, 46)) -> bytes:
    """A PNG of ``width`` by ``height`` pixels of one colour, made byte by byte."""
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
