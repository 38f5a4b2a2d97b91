"""Pictures read and remade (publisher/media/images.py): each bad file refused with a clear
message, renditions upright, never upscaled, in WebP and JPEG, with no metadata left."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from publisher.errors import InputError
from publisher.media.images import WIDTHS, Limits, process
from tests.pictures import huge_png, picture

LIMITS = Limits(max_bytes=5 * 1024 * 1024, max_pixels=50_000_000)


def refused(data: bytes, limits: Limits = LIMITS) -> str:
    with pytest.raises(InputError) as caught:
        process(data, limits)
    return caught.value.message


def test_a_text_file_named_jpg_is_not_a_picture() -> None:
    assert refused(b"Dear editor,\nplease find the photo attached.\n") == (
        "this file is not a JPEG, PNG, WebP or GIF picture"
    )
    assert refused(b"") == "the file is empty"


@pytest.mark.parametrize(
    "svg",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>',
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    ],
)
def test_svg_is_refused_with_or_without_script(svg: bytes) -> None:
    assert "SVG drawing is not taken" in refused(svg)


def test_a_truncated_jpeg_is_refused() -> None:
    whole = picture(800, 600)
    assert "cut short or damaged" in refused(whole[: len(whole) // 2])


def test_a_20000_by_20000_png_is_refused_before_it_is_decoded() -> None:
    bomb = huge_png(20_000, 20_000)
    assert len(bomb) < 1000
    assert refused(bomb) == (
        "more pixels than the 50,000,000 a picture may have (PUBLISHER_PICTURE_MAX_PIXELS)"
    )  # Pillow's own guard says so first, past 2 x 89 million pixels
    assert refused(huge_png(10_000, 8_000)) == (
        "the picture is 10,000 x 8,000 pixels: more pixels than the 50,000,000 a picture may "
        "have (PUBLISHER_PICTURE_MAX_PIXELS)"
    )


def test_a_file_over_the_size_limit_is_refused() -> None:
    message = refused(picture(400, 300), Limits(max_bytes=1024, max_pixels=10**7))
    assert "more than the 0.0009765625 MB" not in message  # a readable size
    assert "PUBLISHER_PICTURE_MAX_BYTES" in message


def test_renditions_are_made_once_in_webp_and_jpeg_and_never_upscaled() -> None:
    done = process(picture(1000, 500, "PNG"), LIMITS)
    assert (done.kind, done.width, done.height) == ("png", 1000, 500)
    sizes = {(r.width, r.height, r.content_type) for r in done.renditions}
    assert sizes == {
        (w, w // 2, kind) for w in (480, 600, 960) for kind in ("image/webp", "image/jpeg")
    }
    for r in done.renditions:
        with Image.open(io.BytesIO(r.data)) as image:
            assert image.size == (r.width, r.height)
            assert image.format == {"image/webp": "WEBP", "image/jpeg": "JPEG"}[r.content_type]
    small = process(picture(300, 200), LIMITS)
    assert {r.width for r in small.renditions} == {300}  # narrower than 480: as it is
    big = process(picture(2400, 1600), LIMITS)
    assert sorted({r.width for r in big.renditions}) == list(WIDTHS)


def test_orientation_is_applied_and_no_exif_or_gps_is_left() -> None:
    # Orientation 6: the camera was turned; the picture is shown rotated 90 degrees.
    original = picture(1200, 800, orientation=6, gps=True)
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get(0x8825)  # the GPS is really there to start with
    done = process(original, LIMITS)
    assert (done.width, done.height) == (800, 1200)
    for r in done.renditions:
        assert (r.width, r.height) == (r.width, round(r.width * 1.5))
        with Image.open(io.BytesIO(r.data)) as image:
            assert not image.getexif(), r
            assert "exif" not in image.info and "xmp" not in image.info
            assert b"TestCam" not in r.data and b"Exif" not in r.data
            rgb = image.convert("RGB")
            # Left half red turned to the top half (clockwise): top red, bottom blue.
            top, bottom = (
                rgb.getpixel((r.width // 2, 5)),
                rgb.getpixel((r.width // 2, r.height - 5)),
            )
            assert top[0] > 150 and top[2] < 100, top  # type: ignore[index]
            assert bottom[2] > 150 and bottom[0] < 100, bottom  # type: ignore[index]


def test_a_gif_becomes_its_first_frame_as_a_still() -> None:
    frames = [Image.new("RGB", (600, 400), c) for c in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    done = process(out.getvalue(), LIMITS)
    assert done.kind == "gif"
    for r in done.renditions:
        with Image.open(io.BytesIO(r.data)) as image:
            assert getattr(image, "n_frames", 1) == 1
            red, green, _ = image.convert("RGB").getpixel((10, 10))  # type: ignore[misc]
            assert red > 200 and green < 50


def test_transparency_is_kept_in_webp_and_laid_on_white_in_jpeg() -> None:
    image = Image.new("RGBA", (500, 500), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    done = process(out.getvalue(), LIMITS)
    webp = next(r for r in done.renditions if r.content_type == "image/webp")
    jpeg = next(r for r in done.renditions if r.content_type == "image/jpeg")
    with Image.open(io.BytesIO(webp.data)) as kept:
        assert kept.mode == "RGBA" and kept.getpixel((5, 5))[3] == 0  # type: ignore[index]
    with Image.open(io.BytesIO(jpeg.data)) as flat:
        assert flat.convert("RGB").getpixel((5, 5)) == (255, 255, 255)


def test_the_same_file_has_the_same_digest() -> None:
    data = picture(640, 480)
    assert process(data, LIMITS).digest == process(data, LIMITS).digest
    assert process(data, LIMITS).digest != process(picture(640, 481), LIMITS).digest
