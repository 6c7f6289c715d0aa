"""Alerts: ``--notify URL`` (or ``--notify-env NAME``, ``--notify-file PATH``) on ``signals``,
``run`` and ``daily`` posts one JSON message to a webhook once the command is done: the signal
(decision day, regime, exposure, what changed, warnings) or the failure.

- The files are written first: a post that fails never loses the signal. It is retried with
  exponential backoff (``notify.retries``, ``notify.backoff_s`` doubling up to
  ``notify.max_backoff_s``, ``notify.timeout_s`` per attempt; HTTP 429 and 5xx and network
  errors are retried, another 4xx is not), and when it still fails the command says so on the
  console and exits 3 (``EXIT_NOT_NOTIFIED``); the outputs and the ledger record stay.
- The URL may carry a token. It is never written anywhere: not to the outputs, the manifest,
  the run log, the ledger, the console or an error message. Messages name the webhook by its
  scheme and host only (``redacted``), and any text about a failed post is scrubbed of the
  URL's parts (``scrub``). Pass it through an environment variable or a file to keep it off the
  command line (where ``ps`` shows it).

The message (``schema`` ``majors_alts.alert/1``) is described in docs/morning.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import load_config
from ..config.sections import NotifyConfig
from ..errors import MonitorError

log = logging.getLogger("majors_alts_monitor")

SCHEMA = "majors_alts.alert/1"
EXIT_NOT_NOTIFIED = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("alerts").add_mutually_exclusive_group()
    g.add_argument(
        "--notify",
        metavar="URL",
        default=None,
        help="post a JSON message to this webhook when done (the signal, or the failure); "
        "prefer --notify-env or --notify-file when the URL holds a token",
    )
    g.add_argument(
        "--notify-env",
        metavar="NAME",
        default=None,
        help="the webhook URL is in this environment variable",
    )
    g.add_argument(
        "--notify-file",
        metavar="PATH",
        type=Path,
        default=None,
        help="the webhook URL is the first line of this file",
    )


def webhook_url(args: argparse.Namespace) -> str | None:
    """The webhook of ``--notify``/``--notify-env``/``--notify-file`` (``None`` without one);
    a ``MonitorError`` (exit 2, before any work) naming the option, never the value."""
    url, what = getattr(args, "notify", None), "--notify"
    if getattr(args, "notify_env", None):
        what = f"--notify-env {args.notify_env}"
        url = os.environ.get(args.notify_env)
        if not url:
            raise MonitorError(
                f"{what}: the environment variable {args.notify_env} is not set or empty. "
                "What to do: export it with the webhook URL, or pass --notify-file"
            )
    elif getattr(args, "notify_file", None) is not None:
        what = f"--notify-file {args.notify_file}"
        try:
            lines = Path(args.notify_file).read_text().strip().splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise MonitorError(
                f"{what} cannot be read ({type(err).__name__}). What to do: write the webhook "
                "URL on the file's first line"
            ) from None
        url = lines[0].strip() if lines else ""
        if not url:
            raise MonitorError(f"{what} is empty. What to do: write the webhook URL in it")
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MonitorError(
            f"{what}: the webhook is not an http(s) URL with a host (its value is not shown: it "
            "may hold a token). What to do: give a URL like https://hooks.example.com/..."
        )
    return url.strip()


def redacted(url: str) -> str:
    """The webhook as messages name it: scheme and host (and port), the rest hidden."""
    p = urllib.parse.urlsplit(url)
    port = f":{p.port}" if p.port else ""
    return f"{p.scheme}://{p.hostname}{port}/..."


def scrub(text: str, url: str) -> str:
    """``text`` without the URL or any of its secret-bearing parts (user info, path, query,
    fragment)."""
    p = urllib.parse.urlsplit(url)
    whole = [url, url.rstrip("/"), p.netloc if "@" in p.netloc else "", p.path, p.query]
    whole += [p.fragment, urllib.parse.unquote(p.path), urllib.parse.unquote(p.query)]
    # and each piece that may be a token alone: user, password, path segments, query values
    pieces = [p.username or "", p.password or "", *p.path.split("/"), *p.fragment.split("/")]
    pieces += [v for _, v in urllib.parse.parse_qsl(p.query, keep_blank_values=True)]
    pieces += [urllib.parse.unquote(x) for x in pieces]
    secrets = {s for s in whole if s and s != "/" and len(s) > 2}
    secrets |= {s for s in pieces if len(s) >= 6}
    for s in sorted(secrets, key=len, reverse=True):
        text = text.replace(s, "...")
    return text


@dataclass
class PostResult:
    ok: bool
    attempts: int
    last: str  # what the last attempt got: "HTTP 200", "HTTP 500", "timed out" ...


def post(url: str, message: dict[str, Any], cfg: NotifyConfig, sleep=time.sleep) -> PostResult:
    """POST ``message`` as JSON to ``url``: up to ``1 + cfg.retries`` attempts, waiting
    ``backoff_s x 2^k`` (at most ``max_backoff_s``; a 429's ``Retry-After`` if longer, within
    the same cap) between them. Retried: network errors, timeouts, HTTP 429 and 5xx."""
    body = json.dumps(message, sort_keys=True, default=str).encode()
    last = "not sent"
    attempts = 0
    for k in range(1 + cfg.retries):
        attempts = k + 1
        wait = min(cfg.backoff_s * 2**k, cfg.max_backoff_s)
        req = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": f"majors-alts/{__version__}",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=cfg.timeout_s) as resp:  # noqa: S310
                resp.read()
                return PostResult(True, attempts, f"HTTP {resp.status}")
        except urllib.error.HTTPError as err:
            last = f"HTTP {err.code}"
            if err.code != 429 and err.code < 500:
                return PostResult(False, attempts, last + " (not retried: the webhook refused it)")
            retry_after = (err.headers or {}).get("Retry-After", "")
            if err.code == 429 and retry_after.strip().isdigit():
                wait = min(max(wait, float(retry_after)), cfg.max_backoff_s)
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            last = "timed out" if isinstance(reason, TimeoutError) else type(reason).__name__
            if isinstance(reason, OSError) and reason.strerror:
                last = reason.strerror
        if k < cfg.retries:
            sleep(wait)
    return PostResult(False, attempts, last)


# ---- the message --------------------------------------------------------------------------


def _label(regime: str | None, exposure: float | None) -> str:
    if regime is None:
        return "no signal"
    return f"{regime} (exposure {exposure:.2f})" if exposure is not None else regime


def message(
    command: str,
    *,
    sig: dict[str, Any] | None,
    ledger: dict[str, Any] | None,
    error: str | None,
    exit_code: int,
    steps: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The alert (schema ``majors_alts.alert/1``, docs/morning.md)."""
    events: list[str] = []
    changed: list[str] = []
    warnings = list(sig.get("warnings", [])) if sig else []
    if error is not None or exit_code not in (0, EXIT_NOT_NOTIFIED):
        events.append("failed")
    if sig is not None:
        if sig.get("stale") or any(str(w).startswith("STALE") for w in warnings):
            events.append("stale")
        elif sig.get("late"):  # a call for a day already over (report.freshness)
            events.append("late")
        if sig.get("regime") != sig.get("previous_regime"):
            events.append("regime_change")
            changed.append(f"regime {sig.get('previous_regime')} -> {sig.get('regime')}")
        if sig.get("action") in ("ENTER", "EXIT"):
            changed.append(f"action {sig['action']}: exposure held {sig['exposure']:.2f}")
    if ledger is not None and ledger.get("revision"):
        events.append("revision")
        changed.append(
            f"revision {ledger['revision']} of the call issued for {ledger['decision_date']}"
        )
    event = events[0] if events else "signal"
    if sig is not None:
        text = f"majors-alts {command}: {_label(sig.get('regime'), sig.get('exposure'))}"
        text += f" for {sig.get('decision_date')} (action {sig.get('action')})"
    else:
        text = f"majors-alts {command}: no signal"
    if changed:
        text += "; " + "; ".join(changed)
    if error:
        text += f"; FAILED (exit {exit_code}): {error}"
    elif "stale" in events:
        text += "; STALE data"
    elif "late" in events:
        text += f"; LATE: for {sig.get('trade_day')}, a day already over"  # type: ignore[union-attr]
    return {
        "schema": SCHEMA,
        "event": event,
        "events": events or ["signal"],
        "command": command,
        "text": text,
        "decision_date": sig.get("decision_date") if sig else None,
        "trade_date": ledger.get("trade_date") if ledger else None,
        "regime": sig.get("regime") if sig else None,
        "previous_regime": sig.get("previous_regime") if sig else None,
        "exposure": sig.get("exposure") if sig else None,
        "action": sig.get("action") if sig else None,
        "stale": bool(sig.get("stale")) if sig else None,
        "changed": changed,
        "warnings": warnings,
        "error": error,
        "exit_code": exit_code,
        "steps": steps,
        "ledger": None
        if ledger is None
        else {
            k: ledger.get(k) for k in ("decision_date", "answer", "revision", "backfilled", "late")
        },
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "package_version": __version__,
    }


# ---- around a command ---------------------------------------------------------------------


@dataclass
class Pending:
    """What the command reports for the alert (``record``); read by ``alerting``."""

    sig: dict[str, Any] | None = None
    ledger: dict[str, Any] | None = None
    steps: dict[str, int] | None = None
    notes: list[str] = field(default_factory=list)


_pending: Pending | None = None


def record(sig: dict[str, Any] | None, ledger: dict[str, Any] | None = None) -> None:
    """A command's signal (and its ledger record) for the alert, if one is to be sent."""
    if _pending is not None:
        _pending.sig, _pending.ledger = sig, ledger


def record_steps(steps: dict[str, int]) -> None:
    """``daily``'s steps and their exit codes, for the alert."""
    if _pending is not None:
        _pending.steps = dict(steps)


def note_failure(step: str, error: str) -> None:
    """A step of ``daily`` that failed (the command goes on), for the alert's ``error``."""
    if _pending is not None:
        _pending.notes.append(f"{step}: {error}")


def alerting(command: str, fn: Callable[[argparse.Namespace], int]):
    """``fn`` (a command) that posts its alert when done (``--notify`` ...). The URL is read
    before any work (a missing variable or file is exit 2 at once)."""

    def run(args: argparse.Namespace) -> int:
        global _pending
        url = webhook_url(args)
        if url is None:
            return fn(args)
        try:
            cfg = load_config(getattr(args, "config", None)).notify
        except MonitorError:  # the command reports it (and it is alerted) with the defaults
            cfg = NotifyConfig()
        _pending = pend = Pending()
        try:
            code = fn(args)
        except MonitorError as err:
            errors = [*pend.notes, str(err)]
            _send(url, cfg, command, pend, scrub("; ".join(errors), url), err.exit_code)
            raise
        except KeyboardInterrupt:
            raise
        except Exception as err:  # noqa: BLE001 - alerted, then cli.main reports it (exit 1)
            _send(url, cfg, command, pend, scrub(f"{type(err).__name__}: {err}", url), 1)
            raise
        finally:
            _pending = None
        error = scrub("; ".join(pend.notes), url) or None
        if cfg.when == "alerts" and not _is_alert(pend, error, code):
            return code
        sent = _send(url, cfg, command, pend, error, code)
        return EXIT_NOT_NOTIFIED if not sent and code == 0 else code

    return run


def _is_alert(p: Pending, error: str | None, code: int) -> bool:
    m = message("", sig=p.sig, ledger=p.ledger, error=error, exit_code=code, steps=p.steps)
    return m["event"] != "signal"


def _send(
    url: str, cfg: NotifyConfig, command: str, p: Pending, error: str | None, code: int
) -> bool:
    msg = message(command, sig=p.sig, ledger=p.ledger, error=error, exit_code=code, steps=p.steps)
    res = post(url, msg, cfg)
    where = redacted(url)
    if res.ok:
        log.info(f"alert posted to {where} ({msg['event']}, {res.last})")
        return True
    what = "the signal is written and recorded in the ledger" if p.sig else "nothing else changes"
    note = scrub(
        f"note: the alert could not be posted to {where} after {res.attempts} attempt(s) (last: "
        f"{res.last}); {what}. What to do: check the webhook, then run the command again to "
        "post it (an issued signal is not recorded twice)",
        url,
    )
    print(note, file=sys.stderr, flush=True)
    return False
