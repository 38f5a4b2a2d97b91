"""A press office on loopback for the inbox tests: RSS 2.0 feeds served by a real HTTP
server, a sample of press releases, and a timetable whose sources poll them."""

from __future__ import annotations

import threading
from datetime import timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from publisher.schedules import Timetable, load_timetable
from tests.support import NOW

__all__ = ["PRESS", "RELEASES", "FeedServer", "rss", "timetable", "when"]

PRESS = "KOFICE press releases"


class FeedServer:
    """A real HTTP server on loopback: ``/NAME.xml`` answers ``feeds[NAME]`` (RSS 2.0), or
    the status in ``fail`` (a source that keeps failing)."""

    def __init__(self) -> None:
        self.feeds: dict[str, bytes] = {}
        self.fail: dict[str, int] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.strip("/").removesuffix(".xml")
                if name in outer.fail:
                    self.send_response(outer.fail[name])
                    self.end_headers()
                    return
                body = outer.feeds.get(name)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", "application/rss+xml; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


def rss(title: str, items: list[dict[str, str]]) -> bytes:
    """An RSS 2.0 document; each item's keys: title, link, description, content, image, date."""
    parts = []
    for item in items:
        image = (
            f'<enclosure url="{escape(item["image"])}" type="image/jpeg" length="1000"/>'
            if item.get("image")
            else ""
        )
        content = (
            f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>"
            if item.get("content")
            else ""
        )
        parts.append(
            f"<item><title>{escape(item['title'])}</title><link>{escape(item['link'])}</link>"
            f"<guid>{escape(item['link'])}</guid>"
            f"<description>{escape(item.get('description', ''))}</description>{content}"
            f"<pubDate>{item['date']}</pubDate>{image}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{escape(title)}</title><link>https://press.example.org/</link>"
        f"<description>Press</description>{''.join(parts)}</channel></rss>"
    ).encode()


def when(minutes: int) -> str:
    """``minutes`` before NOW, as RSS dates it."""
    return format_datetime(NOW - timedelta(minutes=minutes))


RELEASES = [
    {
        "title": "Hallyu exhibition opens in Singapore",
        "link": "https://press.example.org/releases/hallyu",
        "description": "An exhibition of Korean pop culture opens at the National Museum.",
        "content": "<p>The exhibition runs <strong>until March</strong>.</p>"
        "<script>alert('x')</script>",
        "image": "https://press.example.org/img/hallyu.jpg",
        "date": when(30),
    },
    {
        "title": "Film week announced",
        "link": "https://press.example.org/releases/film-week",
        "description": "Korean film week returns in May.",
        "date": when(90),
    },
]


def timetable(tmp_path: Path, feeds: FeedServer, **more: str) -> Timetable:
    """schedules.yaml with the starter digest and the sources ``more`` names (key: feed)."""
    path = tmp_path / "schedules.yaml"
    text = path.read_text().rstrip() + "\nsources:\n"
    text += (
        f"  kofice-press:\n    url: {feeds.url}/press.xml\n    every: 15m\n"
        f"    mode: inbox\n    categories: [Culture]\n    name: {PRESS}\n"
    )
    for key, name in more.items():
        text += f"  {key}:\n    url: {feeds.url}/{name}.xml\n    every: 15m\n    mode: inbox\n"
    path.write_text(text)
    return load_timetable(path)
