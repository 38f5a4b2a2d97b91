"""logo.py: a logo upload is known by its bytes, not its name; its size read from its header."""

from __future__ import annotations

import hashlib

import pytest

from publisher.errors import InputError
from publisher.look.logo import MAX_BYTES, logo_file
from tests.pictures import GIF_HEADER, jpeg_header, png


def test_png_jpeg_and_gif_are_read_with_their_size() -> None:
    data = png(480, 120)
    logo = logo_file(data)
    assert (logo.content_type, logo.width, logo.height) == ("image/png", 480, 120)
    assert logo.key == hashlib.sha256(data).hexdigest() and logo.data == data
    jpeg = logo_file(jpeg_header(600, 150))
    assert (jpeg.content_type, jpeg.width, jpeg.height) == ("image/jpeg", 600, 150)
    gif = logo_file(GIF_HEADER)
    assert (gif.content_type, gif.width, gif.height) == ("image/gif", 120, 40)


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "the logo file is empty"),
        (b"%PDF-1.7\n...", "the logo is not a picture: upload a PNG, JPEG or GIF file"),
        (b"<script>alert(1)</script>", "not a picture"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "an SVG drawing, which most mail"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "a WebP picture, which some mail programs"),
        (png(480, 120)[:20], "cut short or damaged"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "cut short or damaged"),
        (png(8, 8), "the logo is 8 by 8 pixels; each side must be 16 to 4000"),
        (png(1, 1)[:16] + b"\x00\x01\x00\x00\x00\x00\x00\x40" + png(1, 1)[24:], "65536 by 64"),
    ],
)
def test_what_is_not_a_logo_is_refused_saying_why(data: bytes, said: str) -> None:
    with pytest.raises(InputError, match=said):
        logo_file(data)


def test_a_logo_too_large_is_refused_before_it_is_read() -> None:
    with pytest.raises(InputError, match=f"at most {MAX_BYTES // 1024} kB"):
        logo_file(b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_BYTES)
