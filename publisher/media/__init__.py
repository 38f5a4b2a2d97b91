"""The site's own pictures (issue 26): kept from an upload or an address (``library``), and
the addresses imported stories name, fetched by the daemon (``keeper``); the pictures
themselves are read and remade in ``images`` (Pillow).

For other areas (the site's logo, say): ``keep(engine, settings, data, alt=..., actor=...,
now=...)`` keeps uploaded bytes and gives the stored picture, and ``url(settings, picture,
width)`` a rendition's address."""

from publisher.media.library import keep, url

__all__ = ["keep", "url"]
