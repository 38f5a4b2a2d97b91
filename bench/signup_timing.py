"""Sign-up and "Your subscription" answer times, members against strangers (issue 16, 17).

Through the real app over HTTP (uvicorn on loopback) on SQLite, with a real SMTP server that
would take 50 ms a message: the answer never waits on it (the mail is queued). Prints the
median and 90th percentile per kind of address; they should match within noise.

    .venv/bin/python bench/signup_timing.py [--rounds 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from publisher import store
from publisher.community import subscriptions
from publisher.web import create_app
from tests.browser import LiveServer
from tests.smtp import SmtpServer
from tests.support import make_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    smtp = SmtpServer()
    smtp.recorder.delay = 0.05
    smtp.start()
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    settings = make_settings(folder, PUBLISHER_DATABASE_URL=url, PUBLISHER_SMTP_URL=smtp.url)
    engine = store.make_engine(url)
    store.migrate(engine)
    now = datetime.now(UTC)
    for n in range(args.rounds):
        subscriptions.add_subscriber(
            engine, f"member{n}@example.com", confirmed=True, digests=[],
            known_digests=["daily"], now=now,
        )  # fmt: skip
    server = LiveServer(create_app(settings, engine, feed_upkeep_every=None, send_mail_now=True))
    times: dict[str, list[float]] = {}
    try:
        with httpx.Client(base_url=server.url) as client:
            for n in range(args.rounds):
                for route in ("/subscribe", "/subscription"):
                    for who in ("member", "stranger"):
                        started = time.perf_counter()
                        answer = client.post(
                            route,
                            data={"email": f"{who}{n}@example.com"},
                            headers={"X-Forwarded-For": f"10.{n // 250}.{n % 250}.1"},
                        )
                        elapsed = time.perf_counter() - started
                        assert answer.status_code == 200, answer.text
                        times.setdefault(f"{route} {who}", []).append(elapsed * 1000)
    finally:
        server.stop()
        smtp.stop()
        engine.dispose()
    for kind, values in times.items():
        values.sort()
        print(
            f"{kind:<24} median {statistics.median(values):6.2f} ms   "
            f"p90 {values[int(len(values) * 0.9)]:6.2f} ms   ({len(values)} posts)"
        )


if __name__ == "__main__":
    main()
