"""Keep a photo: the checks, decoding, orientation and the ten renditions (five widths, WebP
and JPEG) of a 12-megapixel JPEG and the same as a PNG. Prints the time of each (best of
three) and the renditions' total size. Uploads are made once, so this is the wait an editor
sees when saving a story with a new picture.

    .venv/bin/python bench/pictures.py
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageFilter

from publisher.media.images import Limits, process

LIMITS = Limits(max_bytes=200 * 1024 * 1024, max_pixels=50_000_000)


def main() -> None:
    # Blurred noise: no easier to compress than a photo.
    photo = Image.frombytes("RGB", (4000, 3000), os.urandom(4000 * 3000 * 3))
    photo = photo.filter(ImageFilter.GaussianBlur(3))
    for kind, options in (("JPEG", {"quality": 90}), ("PNG", {})):
        out = io.BytesIO()
        photo.save(out, kind, **options)
        data = out.getvalue()
        times = []
        for _ in range(3):
            started = time.perf_counter()
            done = process(data, LIMITS)
            times.append(time.perf_counter() - started)
        size = sum(len(r.data) for r in done.renditions)
        print(
            f"12 Mpx {kind} ({len(data) // 1024} KB): {min(times):.2f} s for "
            f"{len(done.renditions)} renditions ({size // 1024} KB)"
        )


if __name__ == "__main__":
    main()
