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


LAYOUT_JS = """(function () {
  var W = window.innerWidth;
  function box(el) {
    // the part of the element's box its scrolling or clipping ancestors let show (scrolled
    // out of a table's box is not on the screen)
    var r = el.getBoundingClientRect();
    var b = {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom};
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      var st = getComputedStyle(p);
      if (st.overflowX !== 'visible' || st.overflowY !== 'visible') {
        var q = p.getBoundingClientRect();
        b = {x0: Math.max(b.x0, q.left), y0: Math.max(b.y0, q.top),
             x1: Math.min(b.x1, q.right), y1: Math.min(b.y1, q.bottom)};
      }
    }
    return {x0: b.x0, y0: b.y0 + window.scrollY, x1: b.x1, y1: b.y1 + window.scrollY};
  }
  function name(el) {
    var cls = el.className && el.className.baseVal !== undefined ? el.className.baseVal : el.className;
    var fig = el.closest('.js-plotly-plot');
    var sec = el.closest('section, .card, header, table');
    return el.tagName.toLowerCase() + (cls ? '.' + String(cls).split(' ')[0] : '') +
      (fig ? ' in #' + fig.id : sec && sec.id ? ' in #' + sec.id : '') +
      ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
  }
  var tall = [];
  document.querySelectorAll('tr').forEach(function (tr, i) {
    var h = tr.getBoundingClientRect().height;
    if (h > 80) { var t = tr.closest('table');
      tall.push((t && t.id ? '#' + t.id : 'table') + ' row ' + tr.rowIndex + ': ' + Math.round(h) + ' px'); }
  });
  // titles and labels: headings, table headers, captions, form labels, description lists;
  // in each chart its title, annotations (subplot titles, labels), axis titles, legend items,
  // colour-bar titles, tick labels and the toolbar
  var html = Array.prototype.slice.call(document.querySelectorAll(
    'h1, h2, h3, th, caption, label, dt, dd, .latest, p.note'));
  var groups = [html.map(function (el) { return {el: el, tick: false}; })];
  document.querySelectorAll('.js-plotly-plot').forEach(function (fig) {
    var g = [];
    fig.querySelectorAll('.gtitle, g.annotation, .g-xtitle text, .g-ytitle text, ' +
      '.g-x2title text, .g-y2title text, .g-x3title text, .g-y3title text, ' +
      '.legend .traces, .cbtitle, .modebar').forEach(function (el) {
      g.push({el: el, tick: false}); });
    fig.querySelectorAll('.xtick text, .ytick text, .x2tick text, .y2tick text, ' +
      '.xaxislayer-above text, .yaxislayer-above text').forEach(function (el) {
      g.push({el: el, tick: true}); });
    groups.push(g);
  });
  var overlaps = [];
  groups.forEach(function (g) {
    var items = g.map(function (it) { return {el: it.el, tick: it.tick, b: box(it.el)}; })
      .filter(function (it) { return it.b.x1 - it.b.x0 > 0 && it.b.y1 - it.b.y0 > 0 &&
        getComputedStyle(it.el).visibility !== 'hidden' &&
        getComputedStyle(it.el).display !== 'none'; });
    for (var i = 0; i < items.length; i++) {
      for (var j = i + 1; j < items.length; j++) {
        var a = items[i], b = items[j];
        if (a.tick && b.tick) { continue; }  // plotly spaces its own tick labels
        if (a.el.contains(b.el) || b.el.contains(a.el)) { continue; }
        var w = Math.min(a.b.x1, b.b.x1) - Math.max(a.b.x0, b.b.x0);
        var h = Math.min(a.b.y1, b.b.y1) - Math.max(a.b.y0, b.b.y0);
        if (w > 1 && h > 1) { overlaps.push(name(a.el) + ' / ' + name(b.el)); }
      }
    }
  });
  // text cut by its box: an element that clips (overflow hidden) narrower than its content
  var cut = [];
  document.querySelectorAll('main *').forEach(function (el) {
    var st = getComputedStyle(el);
    if ((st.overflowX === 'hidden' || st.textOverflow === 'ellipsis') &&
        el.scrollWidth > el.clientWidth + 1 && !el.closest('.js-plotly-plot')) {
      cut.push(name(el));
    }
  });
  // a table wider than the screen must sit in a box that scrolls sideways
  var unscrolled = [];
  document.querySelectorAll('table').forEach(function (t) {
    if (t.getBoundingClientRect().right > W + 1) {
      var p = t.parentElement, ok = false;
      while (p && p !== document.body) {
        var ox = getComputedStyle(p).overflowX;
        if (ox === 'auto' || ox === 'scroll') { ok = true; break; }
        p = p.parentElement;
      }
      if (!ok) { unscrolled.push(name(t)); }
    }
  });
  // a chart drawn beyond its card (a plot box without a height, shrunk by a resize)
  var spill = [];
  document.querySelectorAll('.js-plotly-plot').forEach(function (fig) {
    var svg = fig.querySelector('.main-svg'), card = fig.closest('section, .card');
    if (svg && card && svg.getBoundingClientRect().bottom > card.getBoundingClientRect().bottom + 1) {
      spill.push('#' + fig.id + ' drawn ' + Math.round(svg.getBoundingClientRect().bottom -
        card.getBoundingClientRect().bottom) + ' px below its card');
    }
  });
  return JSON.stringify({tallRows: tall, overlaps: overlaps.slice(0, 40),
    nOverlaps: overlaps.length, cut: cut.slice(0, 20), unscrolled: unscrolled, spill: spill});
})()"""


def layout_problems(probe: dict) -> list[str]:
    """What :data:`LAYOUT_JS` found in an ``inspect_page(..., layout=True)`` probe: horizontal
    overflow, table rows taller than 80 px, overlapping titles or labels, text cut by its box,
    tables wider than the screen outside a sideways-scrolling box (empty when the page is
    clean)."""
    out = []
    asked = probe.get("requestedWidth")
    if asked is not None and probe.get("innerWidth") != asked:
        out.append(f"page laid out {probe.get('innerWidth')} px wide on a {asked} px screen")
    if probe.get("scrollWidth", 0) > probe.get("innerWidth", 0):
        out.append(
            f"page {probe['scrollWidth']} px wide at {probe['innerWidth']}: {probe.get('wide')}"
        )
    lay = probe.get("layout") or {}
    out += [f"tall row {r}" for r in lay.get("tallRows", [])]
    out += [f"overlap {o}" for o in lay.get("overlaps", [])]
    out += [f"cut {c}" for c in lay.get("cut", [])]
    out += [f"table outside a scroll box {t}" for t in lay.get("unscrolled", [])]
    out += [f"chart {c}" for c in lay.get("spill", [])]
    return out


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


SIZES_JS = """JSON.stringify([document.documentElement.scrollHeight].concat(
  Array.prototype.map.call(document.querySelectorAll('.js-plotly-plot .main-svg'),
    function (el) { var r = el.getBoundingClientRect(); return [r.top, r.width, r.height]; })))"""


def _settle(pipe: _Pipe, sid: str, deadline: float, quiet_s: float = 1.0) -> None:
    """Wait until the page's height and every chart's box have not changed for ``quiet_s``."""
    import time

    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = pipe.call("Runtime.evaluate", {"expression": SIZES_JS, "returnByValue": True}, sid)
        value = now.get("result", {}).get("value")
        if value != last:
            last, since = value, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.2)


def inspect_page(
    html_path: str | os.PathLike[str],
    *,
    width: int,
    height: int = 900,
    screenshot: Path | None = None,
    timeout_s: float = 120,
    mobile: bool | None = None,
    layout: bool = False,
) -> dict:
    """Load ``html_path`` in a ``width`` x ``height`` CSS-pixel viewport (mobile emulation under
    600 px), wait until every figure drew (or ``timeout_s``), and return the page's probes:
    ``rendered``, ``expected``, ``errors``, ``errorText``, ``scrollWidth``, ``innerWidth``,
    ``height``, ``wide`` (elements sticking out to the right, outside scroll boxes) and
    ``dom``; with ``layout``, ``layout`` holds :data:`LAYOUT_JS`'s findings (read them with
    :func:`layout_problems`). With ``screenshot``, a full-page PNG is written there."""
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
            full = max(height, int(probe.get("height") or height))
            if screenshot is not None and full > height:
                # the whole page in one viewport before anything is measured or captured: a
                # capture beyond the viewport resizes it mid-shot, and plotly's responsive
                # charts would be drawn in the screenshot at a size the probes never saw
                pipe.call(
                    "Emulation.setDeviceMetricsOverride",
                    {
                        "width": width,
                        "height": full,
                        "deviceScaleFactor": 1,
                        "mobile": width < 600 if mobile is None else mobile,
                    },
                    sid,
                )
                _settle(pipe, sid, deadline)  # plotly's resize handlers redraw the charts
                res = pipe.call(
                    "Runtime.evaluate", {"expression": PROBE_JS, "returnByValue": True}, sid
                )
                probe = json.loads(res["result"]["value"])
                full = max(full, int(probe.get("height") or full))
            probe["requestedWidth"] = width
            if layout:
                res = pipe.call(
                    "Runtime.evaluate", {"expression": LAYOUT_JS, "returnByValue": True}, sid
                )
                probe["layout"] = json.loads(res["result"]["value"])
            if screenshot is not None:
                shot = Path(screenshot)
                shot.parent.mkdir(parents=True, exist_ok=True)
                png = pipe.call(
                    "Page.captureScreenshot",
                    {
                        "format": "png",
                        "captureBeyondViewport": False,
                        "clip": {"x": 0, "y": 0, "width": width, "height": full, "scale": 1},
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
