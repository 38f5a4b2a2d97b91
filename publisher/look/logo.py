"""A logo upload checked to be a picture that mail programs show: PNG, JPEG or GIF, known by
its first bytes (never by its name or the browser's word for it), its size in pixels read
from its header, at most MAX_BYTES. The one place a logo is checked and made a stored file,
read to its last pixel by the site's picture reader (``media.images``)."""

from __future__ import annotations

import hashlib
import struct

from publisher.errors import InputError
from publisher.store import LogoFile

__all__ = ["EXTENSIONS", "MAX_BYTES", "MAX_SIDE", "logo_file"]

MAX_BYTES = 512 * 1024  # a logo is fetched with every opened mail
MAX_SIDE = 4000
MIN_SIDE = 16
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}
_NOT_SHOWN = {
    b"RIFF": "a WebP picture, which some mail programs (Outlook) do not show",
    b"<svg": "an SVG drawing, which most mail programs (Gmail, Outlook) do not show",
    b"<?xm": "an SVG drawing, which most mail programs (Gmail, Outlook) do not show",
}


def logo_file(data: bytes) -> LogoFile:
    """``data`` as a logo to keep; InputError saying why when it is not one."""
    if not data:
        raise InputError("the logo file is empty")
    if len(data) > MAX_BYTES:
        raise InputError(
            f"the logo is {len(data) // 1024} kB; at most {MAX_BYTES // 1024} kB, since every "
            "reader's mail program fetches it (a PNG of 600 by 150 pixels is plenty)"
        )
    kind, size = _sniffed(data)
    if kind is None:
        other = _NOT_SHOWN.get(data[:4].lower() if data[:1] == b"<" else data[:4])
        said = other or "not a picture"
        raise InputError(f"the logo is {said}: upload a PNG, JPEG or GIF file")
    if size is None:
        raise InputError("the logo file is cut short or damaged: its size cannot be read")
    width, height = size
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE:
        raise InputError(
            f"the logo is {width} by {height} pixels; each side must be {MIN_SIDE} to "
            f"{MAX_SIDE} pixels"
        )
    # Its header is right; its pixels must be too (Pillow reads it to the end). Imported
    # here: the package's library fetches (httpx), which the sending path must not load.
    from publisher.media import images

    images.decodes(data, images.Limits(MAX_BYTES, MAX_SIDE * MAX_SIDE))
    return LogoFile(hashlib.sha256(data).hexdigest(), kind, width, height, data)


def _sniffed(data: bytes) -> tuple[str | None, tuple[int, int] | None]:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) >= 24 and data[12:16] == b"IHDR":
            return "image/png", struct.unpack(">II", data[16:24])
        return "image/png", None
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif", struct.unpack("<HH", data[6:10]) if len(data) >= 10 else None
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", _jpeg_size(data)
    return None, None


# Start-of-frame markers: baseline, progressive and the rarer codings (not DHT, JPG, DAC).
_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """A JPEG's width and height, from its first start-of-frame segment."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _FRAMES:
            if at + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return (width, height) if width and height else None
        if length < 2:
            return None
        at += 2 + length
    return None
