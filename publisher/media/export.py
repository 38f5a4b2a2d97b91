"""Every rendition written to a folder under its own name, for nginx or a CDN to serve as
``/media/`` (``publisher media export DIR``). A name never changes what it names, so a file
already there is left alone and a run after each upload writes only what is new."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine

from publisher import store

__all__ = ["export"]


def export(engine: Engine, out: Path) -> tuple[int, int]:
    """Write the renditions missing from ``out``; (written, already there)."""
    out.mkdir(parents=True, exist_ok=True)
    with store.reading(engine) as session:
        names = store.picture_names(session)
    written = 0
    for name in names:
        target = out / name
        if target.exists():
            continue
        with store.reading(engine) as session:
            found = store.picture_file(session, name)
        if found is None:  # deleted meanwhile
            continue
        partial = out / f".{name}.part"
        partial.write_bytes(found[1])
        os.replace(partial, target)  # atomic: a server never sends half a picture
        written += 1
    return written, len(names) - written
