"""A real HTTP server on 127.0.0.1 for the update tests: it serves a folder in the Binance
archive's layout (``mirror`` writes one), answers the bucket's S3 listing queries
(``?list-type=2&prefix=...&delimiter=/``, paged) or, with ``s3=False``, only the static folder
index a plain ``python -m http.server`` gives, emulates CoinGecko's ``market_chart/range``, and
injects failures per path: 404, 500, a timeout, a body cut short, garbage."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape


@dataclass
class ServerState:
    root: Path
    s3: bool = True
    page_size: int = 1000
    faults: dict[str, str] = field(default_factory=dict)  # path -> 404|500|timeout|cut|garbage
    delay_s: float = 3.0
    requests: list[str] = field(default_factory=list)
    # CoinGecko: coin id -> {"prices": [[ms, x], ...], ...}; the key it requires (None: none)
    coins: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)
    api_key: str | None = None
    today: date | None = None  # the free plan's 365-day window is counted from here
    lock: threading.Lock = field(default_factory=threading.Lock)

    def log(self, path: str) -> None:
        with self.lock:
            self.requests.append(path)

    def fetched(self, suffix: str = ".zip") -> list[str]:
        return [p for p in self.requests if p.endswith(suffix)]


def _handler(state: ServerState) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *a, **k) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(state.root), **k)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

        def _send(self, code: int, body: bytes, ctype: str = "application/octet-stream") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(url.path).lstrip("/")
            q = dict(urllib.parse.parse_qsl(url.query))
            state.log(path + (f"?{url.query}" if url.query else ""))
            fault = state.faults.get(path)
            if fault == "404":
                return self._send(404, b"not found")
            if fault == "500":
                return self._send(500, b"internal error")
            if fault == "timeout":
                time.sleep(state.delay_s)
                return self._send(404, b"late")
            if "/market_chart/range" in path:
                return self._coingecko(path, q)
            if q.get("list-type") == "2" and state.s3:
                return self._list(q.get("prefix", ""), q.get("continuation-token"), q)
            file = state.root / path
            if fault in ("cut", "garbage") and file.is_file():
                data = file.read_bytes()
                if fault == "garbage":
                    return self._send(200, b"<html>maintenance</html>" + data[:10])
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return None
            if q:  # a static server ignores the query
                self.path = url.path
            return super().do_GET()

        def _list(self, prefix: str, token: str | None, q: dict[str, str]) -> None:
            base = state.root / prefix
            folder = base if prefix.endswith("/") else base.parent
            entries: list[tuple[str, bool]] = []
            if folder.is_dir():
                for p in sorted(folder.iterdir()):
                    rel = str(p.relative_to(state.root)) + ("/" if p.is_dir() else "")
                    if rel.startswith(prefix):
                        entries.append((rel, p.is_dir()))
            start = int(token) if token else 0
            page = entries[start : start + state.page_size]
            more = start + state.page_size < len(entries)
            items = "".join(
                f"<CommonPrefixes><Prefix>{escape(n)}</Prefix></CommonPrefixes>"
                if d
                else f"<Contents><Key>{escape(n)}</Key><Size>1</Size></Contents>"
                for n, d in page
            )
            nxt = f"<NextContinuationToken>{start + state.page_size}</NextContinuationToken>"
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Prefix>{escape(prefix)}</Prefix><IsTruncated>{str(more).lower()}</IsTruncated>"
                f"{nxt if more else ''}{items}</ListBucketResult>"
            ).encode()
            self._send(200, body, "application/xml")

        def _coingecko(self, path: str, q: dict[str, str]) -> None:
            key = self.headers.get("x-cg-demo-api-key") or self.headers.get("x-cg-pro-api-key")
            if state.api_key is not None and key != state.api_key:
                return self._send(401, b'{"status":{"error_code":10002,"error_message":"key"}}')
            coin = path.split("/coins/", 1)[1].split("/", 1)[0]
            if coin not in state.coins:
                return self._send(404, b'{"error":"coin not found"}')
            lo, hi = int(q["from"]) * 1000, int(q["to"]) * 1000
            pro = self.headers.get("x-cg-pro-api-key") is not None
            if state.today is not None and not pro:
                now = datetime(state.today.year, state.today.month, state.today.day, tzinfo=UTC)
                if lo < (now - timedelta(days=365)).timestamp() * 1000:
                    return self._send(
                        401,
                        b'{"error":{"status":{"error_code":10012,"error_message":"Your request '
                        b"exceeds the allowed time range. Public API users are limited to "
                        b'querying historical data within the past 365 days."}}}',
                    )
            data = state.coins[coin]
            out = {k: [p for p in v if lo <= p[0] <= hi] for k, v in data.items()}
            return self._send(200, json.dumps(out).encode(), "application/json")

    return Handler


class _QuietServer(ThreadingHTTPServer):
    # the listen backlog: socketserver's default of 5 drops the connections of 8 parallel
    # downloads beyond it, and each dropped one is retried by the client's TCP after a second
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        pass  # a client that gave up (the timeout test) breaks the late answer's pipe


@contextmanager
def serve(state: ServerState) -> Iterator[str]:
    """Serve ``state`` on a free port; yields the base URL (``http://127.0.0.1:PORT/``)."""
    srv = _QuietServer(("127.0.0.1", 0), _handler(state))
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()
