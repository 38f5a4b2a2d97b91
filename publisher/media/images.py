"""Pictures read and remade with Pillow (the only Pillow user): a JPEG, PNG, WebP or GIF
(its first frame, as a still) checked against the size and pixel limits before it is decoded,
turned upright by its EXIF orientation, and remade as renditions that carry no metadata at
all (no EXIF, GPS, XMP or comments), each width in WebP and JPEG, never wider than the
original. Anything else (SVG, a text file named .jpg, a truncated file, a decompression bomb)
is an InputError saying what it is, and nothing comes out."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from publisher.errors import InputError

__all__ = ["KINDS", "WIDTHS", "Limits", "Processed", "Rendition", "process"]

# Page widths (srcset: phone, tablet, desktop) and the digest's 600 px column at 1x and 2x.
WIDTHS = (480, 600, 960, 1200, 1600)
KINDS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
TYPES = {"jpeg": ("image/jpeg", "jpg"), "webp": ("image/webp", "webp")}


@dataclass(frozen=True)
class Limits:
    max_bytes: int  # of the file as sent
    max_pixels: int  # width x height, checked before a pixel is decoded


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    content_type: str  # image/webp or image/jpeg
    extension: str
    data: bytes


@dataclass(frozen=True)
class Processed:
    digest: str  # SHA-256 of the bytes as sent: the same file twice is one picture
    kind: str  # what it came as: jpeg, png, webp, gif
    width: int  # upright
    height: int
    size: int
    renditions: tuple[Rendition, ...]


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def _refuse_by_look(data: bytes) -> None:
    """A clearer message than "not a picture" for what is often tried."""
    head = data[:1024].lstrip().lower()
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in data[:4096].lower()):
        raise InputError(
            "an SVG drawing is not taken (it can carry script that would run on the site): "
            "send a JPEG, PNG, WebP or GIF"
        )


def _too_many(limits: Limits) -> str:
    return (
        f"more pixels than the {limits.max_pixels:,} a picture may have "
        "(PUBLISHER_PICTURE_MAX_PIXELS)"
    )


def _open(data: bytes, limits: Limits) -> tuple[Image.Image, str]:
    if not data:
        raise InputError("the file is empty")
    if len(data) > limits.max_bytes:
        raise InputError(
            f"the file is {_megabytes(len(data))}, more than the {_megabytes(limits.max_bytes)} "
            "a picture may be (PUBLISHER_PICTURE_MAX_BYTES)"
        )
    _refuse_by_look(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(KINDS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard (past about 89 million pixels): a small file claiming a huge size.
        raise InputError(_too_many(limits)) from None
    except UnidentifiedImageError:
        raise InputError("this file is not a JPEG, PNG, WebP or GIF picture") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"this picture cannot be read ({exc})") from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > limits.max_pixels:
        raise InputError(f"the picture is {width:,} x {height:,} pixels: {_too_many(limits)}")
    return image, KINDS[str(image.format)]


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """The picture's size as shown: EXIF orientations 5 to 8 turn it a quarter."""
    width, height = image.size
    turned = image.getexif().get(0x0112) in (5, 6, 7, 8)
    return (height, width) if turned else (width, height)


def _decoded(image: Image.Image) -> Image.Image:
    """The first frame, decoded, upright, in RGB or RGBA, with no metadata left."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.seek(0)
            if image.format == "JPEG":
                # Decode at the smallest scale (1/2, 1/4, 1/8) still as wide as the widest
                # rendition once upright: a 12-megapixel photo in a fraction of the time.
                turned = image.getexif().get(0x0112) in (5, 6, 7, 8)
                image.draft("RGB", (1, WIDTHS[-1]) if turned else (WIDTHS[-1], 1))
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            has_alpha = upright.mode in ("RGBA", "LA", "PA") or (
                upright.mode == "P" and "transparency" in upright.info
            )
            still = upright.convert("RGBA" if has_alpha else "RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"the picture is cut short or damaged ({exc})") from None
    clean = Image.new(still.mode, still.size)
    clean.paste(still)
    return clean  # a new image: nothing of the file's info (EXIF, XMP, ICC, comments) in it


def _encode(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "jpeg":
        if image.mode == "RGBA":  # JPEG has no transparency: lay it on white
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        image.save(out, "JPEG", quality=82, optimize=True, progressive=True)
    else:
        image.save(out, "WEBP", quality=80, method=2)  # 4 took 3 times as long, 4% smaller
    return out.getvalue()


def _widths(width: int) -> list[int]:
    """The rendition widths for a picture ``width`` wide: never wider than it is."""
    return [w for w in WIDTHS if w <= width] or [width]


def process(data: bytes, limits: Limits) -> Processed:
    """``data`` checked and remade as renditions; InputError saying what is wrong else."""
    image, kind = _open(data, limits)
    width, height = _upright_size(image)
    still = _decoded(image)
    renditions = []
    source = still
    for w in sorted(_widths(still.width), reverse=True):
        h = max(1, round(still.height * w / still.width))
        # Each from the one above it (widest first): five resizes of a small picture, not
        # five of the original.
        sized = source if w == source.width else source.resize((w, h), Image.Resampling.LANCZOS)
        for name in ("webp", "jpeg"):
            content_type, extension = TYPES[name]
            renditions.append(Rendition(w, h, content_type, extension, _encode(sized, name)))
        source = sized
    renditions.sort(key=lambda r: (r.width, r.content_type != "image/webp"))
    return Processed(
        digest=hashlib.sha256(data).hexdigest(),
        kind=kind,
        width=width,
        height=height,
        size=len(data),
        renditions=tuple(renditions),
    )
