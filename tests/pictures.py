"""Pictures made with Pillow for the tests: real files of each kind, with EXIF orientation and
GPS when asked, and hand-made headers for files that claim more pixels than they hold."""

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

__all__ = ["huge_png", "keep_addresses", "picture"]


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
