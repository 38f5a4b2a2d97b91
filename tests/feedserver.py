"""A real HTTP server on loopback serving feed files, for the sources' tests: each path's
answer can be changed while it runs, ETag and Last-Modified are honoured (304s counted),
and a few paths misbehave on purpose (huge, slow, 500, a redirect loop, gzip, a gzip bomb).
Every connection made to it is counted, so a test can tell that nothing reached it."""

from __future__ import annotations

import gzip
import hashlib
import threading
import zlib
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FEEDS = Path(__file__).resolve().parent / "feeds"


@dataclass
class Answer:
    body: bytes = b""
    content_type: str = "application/rss+xml"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    gzip: bool = False
    huge: int = 0  # stream this many bytes of padding instead of ``body``
    stall: float = 0.0  # send the headers, then nothing for this long
    validators: bool = True  # ETag (a hash of the body) and Last-Modified
    bomb: int = 0  # stream a gzip body that undoes to this many MiB of zeros instead of ``body``


class FeedServer:
    """``routes`` maps a path to its Answer; ``hits`` counts GETs per path; ``not_modified``
    counts the 304s; ``posts`` records form posts (a WebSub hub's subscribe requests);
    ``connections`` counts connections; ``streamed`` has (bytes sent, bytes meant) for each
    bomb once its sending stopped. ``host`` and ``port``: where to listen (any free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Answer] = {}
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.posts: list[tuple[str, dict[str, str]]] = []
        self.post_status = 202
        self.posted = threading.Event()
        self.stop_event = threading.Event()
        self.connections = 0
        self.streamed: dict[str, tuple[int, int]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                server.connections += 1
                super().setup()

            def do_GET(self) -> None:
                server._get(self)

            def do_POST(self) -> None:
                server._post(self)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def serve(self, path: str, body: bytes | str, **options: Any) -> str:
        """Serve ``body`` at ``path``; its URL."""
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Answer(body=data, **options)
        return self.url + path

    def serve_file(self, path: str, name: str, **options: Any) -> str:
        kind = "application/feed+json" if name.endswith(".json") else "application/rss+xml"
        options.setdefault("content_type", kind)
        return self.serve(path, (FEEDS / name).read_bytes(), **options)

    def _get(self, request: BaseHTTPRequestHandler) -> None:
        path = urlsplit(request.path).path
        self.hits[path] += 1
        answer = self.routes.get(path)
        if answer is None:
            self._send(request, 404, {"content-type": "text/plain"}, b"not found")
            return
        headers = {"content-type": answer.content_type, **answer.headers}
        if answer.status != 200:
            self._send(request, answer.status, headers, answer.body)
            return
        if answer.validators:
            etag = '"' + hashlib.sha256(answer.body).hexdigest()[:16] + '"'
            headers["etag"] = etag
            headers["last-modified"] = "Mon, 30 Nov 2026 10:00:00 GMT"
            if request.headers.get("if-none-match") == etag:
                self.not_modified[path] += 1
                self._send(request, 304, {"etag": etag}, b"")
                return
        if answer.huge:
            self._huge(request, headers, answer.huge)
            return
        if answer.bomb:
            self._bomb(request, path, headers, answer.bomb)
            return
        if answer.stall:
            headers["content-length"] = str(len(answer.body))
            request.send_response(200)
            for name, value in headers.items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.flush()
            self.stop_event.wait(answer.stall)  # the client gives up first
            return
        body = answer.body
        if answer.gzip:
            body = gzip.compress(body)
            headers["content-encoding"] = "gzip"
        self._send(request, 200, headers, body)

    def _huge(self, request: BaseHTTPRequestHandler, headers: dict[str, str], size: int) -> None:
        request.send_response(200)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("content-length", str(size))
        request.end_headers()
        chunk = b"<!-- padding -->" * 4096
        sent = 0
        try:
            while sent < size and not self.stop_event.is_set():
                request.wfile.write(chunk[: size - sent])
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: what the test wants

    def _bomb(
        self, request: BaseHTTPRequestHandler, path: str, headers: dict[str, str], mib: int
    ) -> None:
        """A gzip stream of ``mib`` MiB of zeros, about 1 KB on the wire for each MiB: after a
        full flush the compressor's output for the same MiB is the same bytes every time."""
        first, block = zeros_gzip()
        total = len(first) + len(block) * (mib - 1)
        request.send_response(200)
        for name, value in {**headers, "content-encoding": "gzip"}.items():
            request.send_header(name, value)
        request.send_header("content-length", str(total))
        request.end_headers()
        sent = 0
        try:
            for part in (first, *([block] * (mib - 1))):
                if self.stop_event.is_set():
                    break
                request.wfile.write(part)
                sent += len(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: what the test wants
        self.streamed[path] = (sent, total)

    def _post(self, request: BaseHTTPRequestHandler) -> None:
        from urllib.parse import parse_qsl

        length = int(request.headers.get("content-length", "0"))
        form = dict(parse_qsl(request.rfile.read(length).decode()))
        self.posts.append((urlsplit(request.path).path, form))
        self.posted.set()
        self._send(request, self.post_status, {"content-type": "text/plain"}, b"")

    @staticmethod
    def _send(
        request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        if "content-length" not in headers:
            request.send_header("content-length", str(len(body)))
        request.end_headers()
        if body:
            request.wfile.write(body)


def zeros_gzip() -> tuple[bytes, bytes]:
    """The start of a gzip stream of zeros (its header and the first MiB), and the bytes
    that each further MiB adds (a stream cut off anywhere after these, with no trailer)."""
    mib = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first, block
