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


def _chromium_exe() -> str:
    exe = find_chromium()
    if exe is None:
        raise ChromiumNotFound("no chromium found: set CHROMIUM or apt-get install chromium")
    return exe


def require_chromium() -> str:
    """The chromium executable for a browser test. Without one the test is skipped with the
    install hint, except in CI (``CI=true``), where a missing browser is a failure: `.ci/run`
    installs Debian's chromium, so its absence there means the set-up broke."""
    import pytest

    exe = find_chromium()
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium not found in CI: apt-get install chromium (or set CHROMIUM)")
        pytest.skip("chromium not found (apt-get install chromium, or set CHROMIUM)")
    return exe


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
    width: int = 1400,
    height: int = 4000,
) -> str:
    """The DOM of ``html_path`` after its scripts ran in a ``width`` x ``height`` window;
    optionally a PNG screenshot of that window (the page's top ``height`` pixels).

    Raises :class:`ChromiumNotFound` without a browser, ``RuntimeError`` when chromium fails
    or prints no DOM, ``subprocess.TimeoutExpired`` after ``timeout_s`` seconds a call.
    """
    exe = _chromium_exe()
    url = Path(html_path).resolve().as_uri()

    size = f"--window-size={width},{height}"
    proc = _chromium(exe, ["--dump-dom", size], url, timeout_s)
    if proc.returncode != 0 or "<html" not in proc.stdout.lower():
        raise RuntimeError(
            f"chromium --dump-dom failed (exit {proc.returncode}): {proc.stderr[-2000:]}"
        )

    if screenshot is not None:
        shot = Path(screenshot).resolve()
        shot.parent.mkdir(parents=True, exist_ok=True)
        shot.unlink(missing_ok=True)
        proc2 = _chromium(exe, [f"--screenshot={shot}", size], url, timeout_s)
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


# --------------------------------------------------------------------------------------------
# DevTools protocol over a pipe: exact viewport widths (a headless window is at least 500 px
# wide) and full-page screenshots
# --------------------------------------------------------------------------------------------

PROBE_JS = """JSON.stringify({
  rendered: document.body.dataset.figuresRendered,
  expected: document.body.dataset.figuresExpected,
  errors: document.body.dataset.scriptErrors,
  errorText: (document.getElementById('script-errors') || {}).textContent || '',
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  height: document.documentElement.scrollHeight,
  wide: Array.from(document.querySelectorAll('body *')).filter(function (el) {
    var r = el.getBoundingClientRect();
    return r.right > window.innerWidth + 1 && !el.closest('.scroll');
  }).slice(0, 8).map(function (el) {
    return el.tagName + '#' + el.id + '.' + String(el.className && el.className.baseVal !== undefined
      ? el.className.baseVal : el.className) + ' right=' + el.getBoundingClientRect().right;
  }),
  dom: document.documentElement.outerHTML
})"""


class _Pipe:
    """A minimal client of chromium's ``--remote-debugging-pipe`` (NUL-separated JSON)."""

    def __init__(self, proc: subprocess.Popen, write_fd: int, read_fd: int) -> None:
        self.proc, self.w, self.r = proc, write_fd, read_fd
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        import json
        import select
        import time

        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired("chromium", 0)
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def call(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout_s: float = 60,
    ) -> dict:
        import json
        import time

        self.next_id += 1
        msg: dict = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)


def inspect_page(
    html_path: str | os.PathLike[str],
    *,
    width: int,
    height: int = 900,
    screenshot: Path | None = None,
    timeout_s: float = 120,
    mobile: bool | None = None,
) -> dict:
    """Load ``html_path`` in a ``width`` x ``height`` CSS-pixel viewport (mobile emulation under
    600 px), wait until every figure drew (or ``timeout_s``), and return the page's probes:
    ``rendered``, ``expected``, ``errors``, ``errorText``, ``scrollWidth``, ``innerWidth``,
    ``height``, ``wide`` (elements sticking out to the right, outside scroll boxes) and
    ``dom``. With ``screenshot``, a full-page PNG is written there."""
    import base64
    import json
    import time

    exe = _chromium_exe()
    url = Path(html_path).resolve().as_uri()
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        # chromium reads commands on fd 3 and writes replies on fd 4
        def fds() -> None:
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)  # free of 3 and 4
            os.dup2(a, 3)
            os.dup2(b, 4)

        proc = subprocess.Popen(
            [
                exe,
                *BASE_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds,  # noqa: PLW1509 - runs before exec in the child only
            pass_fds=(3, 4),
            start_new_session=True,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        pipe = _Pipe(proc, to_chrome_w, from_chrome_r)
        try:
            deadline = time.monotonic() + timeout_s
            target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            sid = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            pipe.call(
                "Emulation.setDeviceMetricsOverride",
                {
                    "width": width,
                    "height": height,
                    "deviceScaleFactor": 1,
                    "mobile": width < 600 if mobile is None else mobile,
                },
                sid,
            )
            pipe.call("Page.navigate", {"url": url}, sid)
            probe: dict = {}
            while time.monotonic() < deadline:
                res = pipe.call(
                    "Runtime.evaluate", {"expression": PROBE_JS, "returnByValue": True}, sid
                )
                value = res.get("result", {}).get("value")
                probe = json.loads(value) if isinstance(value, str) else {}
                if probe.get("expected") and probe.get("rendered") == probe.get("expected"):
                    time.sleep(0.5)  # let plotly's responsive resize settle, then measure again
                    res = pipe.call(
                        "Runtime.evaluate", {"expression": PROBE_JS, "returnByValue": True}, sid
                    )
                    probe = json.loads(res["result"]["value"])
                    break
                time.sleep(0.25)
            if screenshot is not None:
                shot = Path(screenshot)
                shot.parent.mkdir(parents=True, exist_ok=True)
                png = pipe.call(
                    "Page.captureScreenshot",
                    {
                        "format": "png",
                        "captureBeyondViewport": True,
                        "clip": {
                            "x": 0,
                            "y": 0,
                            "width": width,
                            "height": max(height, int(probe.get("height") or height)),
                            "scale": 1,
                        },
                    },
                    sid,
                    timeout_s=max(5.0, deadline - time.monotonic()),
                )
                shot.write_bytes(base64.b64decode(png["data"]))
            return probe
        finally:
            try:
                pipe.call("Browser.close", timeout_s=5)
            except (RuntimeError, subprocess.TimeoutExpired, OSError):
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            os.close(to_chrome_w)
            os.close(from_chrome_r)
