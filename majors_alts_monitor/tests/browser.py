"""Drive headless chromium from tests: dump the DOM after scripts ran, take a screenshot.

The flags keep chromium from reaching for the network (background networking, component
updates, sync, QUIC); each call gets a fresh throw-away profile. ``--virtual-time-budget``
lets timers and the page's load handlers run before the DOM is dumped.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["ChromiumNotFound", "body_attributes", "element_text", "find_chromium", "render"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")

BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
)
VIRTUAL_TIME_MS = 15000


class ChromiumNotFound(FileNotFoundError):
    """No chromium or chrome executable was found."""


def _executable(candidate: str) -> str | None:
    found = shutil.which(candidate)
    if found:
        return found
    path = Path(candidate)
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    return None


def find_chromium() -> str | None:
    """``$CHROMIUM``, ``$CHROME_BIN``, ``/usr/bin/chromium``, then chromium-like names on PATH."""
    for var in ("CHROMIUM", "CHROME_BIN"):
        value = os.environ.get(var)
        if value and (found := _executable(value)):
            return found
    for candidate in ("/usr/bin/chromium", *CANDIDATES):
        if found := _executable(candidate):
            return found
    return None


def _run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run chromium in its own process group so a timeout ends the browser and its helpers."""
    with subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        return subprocess.CompletedProcess(args, proc.returncode, out, err)


def _chromium(
    exe: str, extra: list[str], url: str, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        args = [
            exe,
            *BASE_FLAGS,
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={VIRTUAL_TIME_MS}",
            *extra,
            url,
        ]
        return _run(args, timeout_s)


def render(
    html_path: str | os.PathLike[str],
    *,
    screenshot: Path | None = None,
    timeout_s: float = 60,
) -> str:
    """The DOM of ``html_path`` after its scripts ran; optionally a 1400x4000 PNG screenshot.

    Raises :class:`ChromiumNotFound` without a browser, ``RuntimeError`` when chromium fails
    or prints no DOM, ``subprocess.TimeoutExpired`` after ``timeout_s`` seconds a call.
    """
    exe = find_chromium()
    if exe is None:
        raise ChromiumNotFound("no chromium found: set CHROMIUM or apt-get install chromium")
    url = Path(html_path).resolve().as_uri()

    proc = _chromium(exe, ["--dump-dom"], url, timeout_s)
    if proc.returncode != 0 or "<html" not in proc.stdout.lower():
        raise RuntimeError(
            f"chromium --dump-dom failed (exit {proc.returncode}): {proc.stderr[-2000:]}"
        )

    if screenshot is not None:
        shot = Path(screenshot).resolve()
        shot.parent.mkdir(parents=True, exist_ok=True)
        shot.unlink(missing_ok=True)
        proc2 = _chromium(exe, [f"--screenshot={shot}", "--window-size=1400,4000"], url, timeout_s)
        if proc2.returncode != 0 or not shot.is_file():
            raise RuntimeError(
                f"chromium --screenshot failed (exit {proc2.returncode}): {proc2.stderr[-2000:]}"
            )
    return proc.stdout


class _BodyParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body" and self.attrs is None:
            self.attrs = {k: v or "" for k, v in attrs}


def body_attributes(dom: str) -> dict[str, str]:
    """The attributes of the first ``<body>`` tag in ``dom`` (``data-*`` included)."""
    head, sep, _ = dom.partition("<body")
    if not sep:
        return {}
    end = dom.find(">", len(head))
    parser = _BodyParser()
    parser.feed(dom[len(head) : end + 1])
    return parser.attrs or {}


def element_text(dom: str, element_id: str) -> str:
    """Unescaped text of the first element with ``id=element_id`` (no nested same tags)."""
    m = re.search(rf'<(\w+)\b[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', dom, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(2))) if m else ""
