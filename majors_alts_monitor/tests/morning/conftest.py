"""A small synthetic lake and a quick configuration for the morning instrument's tests, and a
webhook server on 127.0.0.1 that records what it is sent and fails on request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake

START, END = date(2021, 1, 1), date(2023, 6, 30)
QUICK = {
    "stats": {"n_boot": 200},
    "report": {"robustness": False},
    "notify": {"retries": 2, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout_s": 5},
}


@pytest.fixture(scope="session")
def synth_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("morning_synth")
    spec = SyntheticSpec(n_assets=30, start=START, end=END, world="planted", seed=5)
    lake_dir, _ = write_lake(generate(spec), out)
    return lake_dir


@pytest.fixture(scope="session")
def quick_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("morning_cfg") / "quick.yaml"
    p.write_text(yaml.safe_dump(QUICK))
    return p


@dataclass
class Hook:
    """What the webhook answers: ``codes`` in turn (then 200), everything it received."""

    codes: list[int] = field(default_factory=list)
    received: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def webhook(hook: Hook) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with hook.lock:
                code = hook.codes.pop(0) if hook.codes else 200
                hook.paths.append(self.path)
                if code == 200:
                    hook.received.append(json.loads(body))
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
