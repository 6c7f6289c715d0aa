"""Issue 21, item 5: ``--notify`` posts the alert to a real HTTP server on 127.0.0.1 (success;
500 then success after a retry; always failing: the signal is written and recorded, exit 3,
a note); the URL's token is never written to a file or printed; a failed run is alerted; the
``daily`` command's exit code is the worst of its steps."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.config import NotifyConfig
from majors_alts_monitor.morning import ledger, notify
from majors_alts_monitor.morning.commands import worst
from majors_alts_monitor.tests.morning.conftest import Hook, webhook

ASOF = date(2023, 6, 20)
TODAY = ASOF + timedelta(days=1)
TOKEN, QTOKEN = "T0KEN-5ecret-a1b2c3", "q5ecret9z"


def _main(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


def _signals(lake: Path, root: Path, cfg: Path, *extra: str) -> list[str]:
    return ["signals", "--lake", str(lake), "--output-root", str(root), "--config", str(cfg),
            "--asof", ASOF.isoformat(), "--today", TODAY.isoformat(), "--quiet", *extra]  # fmt: skip


def _grep_tree(root: Path, *needles: str) -> list[str]:
    hits = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            hits += [f"{p}: {n}" for n in needles if n.encode() in data]
    return hits


def test_posted_retried_and_a_failed_post_keeps_the_signal(
    synth_lake: Path, quick_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = Hook()
    with webhook(hook) as url:
        # success: one message, the documented schema
        code, _ = _main(capsys, _signals(synth_lake, tmp_path / "a", quick_config, "--notify", url))
        assert code == 0 and len(hook.received) == 1
        m = hook.received[0]
        sig = json.loads((tmp_path / "a/reports/majors_alts/signals_today.json").read_text())
        assert m["schema"] == notify.SCHEMA and m["command"] == "signals"
        assert m["decision_date"] == ASOF.isoformat() and m["regime"] == sig["regime"]
        assert m["exposure"] == sig["exposure"] and m["warnings"] == sig["warnings"]
        assert m["ledger"]["decision_date"] == ASOF.isoformat() and m["exit_code"] == 0
        assert m["event"] in ("signal", "regime_change") and m["text"].startswith("majors-alts")
        # 500, then success after a retry
        hook.codes = [500]
        code, _ = _main(capsys, _signals(synth_lake, tmp_path / "b", quick_config, "--notify", url))
        assert code == 0 and len(hook.paths) == 3 and len(hook.received) == 2
        # always failing: the files and the ledger record are there, exit 3, a note
        hook.codes = [500] * 10
        root = tmp_path / "c"
        code, out = _main(capsys, _signals(synth_lake, root, quick_config, "--notify", url))
        assert code == notify.EXIT_NOT_NOTIFIED
        assert "could not be posted" in out and "after 3 attempt(s) (last: HTTP 500)" in out
        assert (root / "reports/majors_alts/signals_today.json").is_file()
        assert len(ledger.read(root / "reports/majors_alts/ledger")) == 1
        # a refusal (4xx) is not retried
        hook.codes, n = [404], len(hook.paths)
        code, _ = _main(capsys, _signals(synth_lake, root, quick_config, "--notify", url))
        assert code == 3 and len(hook.paths) == n + 1


def test_the_token_is_never_written_or_printed(
    synth_lake: Path,
    quick_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook = Hook()
    captured = ""
    root = tmp_path / "out"
    with webhook(hook) as base:
        secret = f"{base}/hooks/{TOKEN}?key={QTOKEN}"
        monkeypatch.setenv("HOOK_URL", secret)
        (tmp_path / "hook.txt").write_text(secret + "\n")
        for extra in (["--notify-env", "HOOK_URL"], ["--notify-file", str(tmp_path / "hook.txt")]):
            code, out = _main(capsys, _signals(synth_lake, root, quick_config, *extra))
            assert code == 0
            captured += out
        # the run: its manifest and its log
        code, out = _main(
            capsys,
            ["run", "--lake", str(synth_lake), "--output-root", str(root), "--config",
             str(quick_config), "--today", TODAY.isoformat(), "--notify-env", "HOOK_URL"],
        )  # fmt: skip
        assert code == 0
        captured += out
        # a failed post, and a failed run: the messages name the host only
        hook.codes = [500] * 10
        code, out = _main(
            capsys, _signals(synth_lake, root, quick_config, "--notify-env", "HOOK_URL")
        )
        assert code == 3 and "http://127.0.0.1:" in out
        captured += out
        hook.codes = []
        bad = _signals(tmp_path / "no_lake", root, quick_config, "--notify-env", "HOOK_URL")
        code, out = _main(capsys, bad)
        assert code == 2
        captured += out
    assert hook.paths and all(TOKEN in p for p in hook.paths)  # it was used
    assert hook.received[-1]["event"] == "failed" and hook.received[-1]["exit_code"] == 2
    assert hook.received[-1]["error"] and hook.received[-1]["decision_date"] is None
    assert TOKEN not in captured and QTOKEN not in captured
    assert _grep_tree(root, TOKEN, QTOKEN) == []
    assert (root / "artifacts/majors_alts/run_manifest.json").is_file()
    assert any((root / "reports/majors_alts/ledger").iterdir())


def test_bad_webhook_options_fail_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_HOOK", raising=False)
    base = ["signals", "--lake", str(tmp_path / "none"), "--output-root", str(tmp_path)]
    code, out = _main(capsys, [*base, "--notify-env", "NO_SUCH_HOOK"])
    assert code == 2 and "NO_SUCH_HOOK is not set" in out
    monkeypatch.setenv("A_HOOK", f"ftp://host/{TOKEN}")
    code, out = _main(capsys, [*base, "--notify-env", "A_HOOK"])
    assert code == 2 and "not an http(s) URL" in out and TOKEN not in out
    code, out = _main(capsys, [*base, "--notify-file", str(tmp_path / "missing.txt")])
    assert code == 2 and "cannot be read" in out


def test_backoff_is_exponential_and_bounded() -> None:
    waits: list[float] = []
    cfg = NotifyConfig(retries=5, backoff_s=1.0, max_backoff_s=5.0, timeout_s=0.5)
    # nothing listens on port 9 of 127.0.0.1: every attempt fails at once
    res = notify.post("http://127.0.0.1:9/x", {"a": 1}, cfg, sleep=waits.append)
    assert not res.ok and res.attempts == 6
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_scrub_and_redacted() -> None:
    url = f"https://user:{TOKEN}@hooks.example.com/services/{TOKEN}?k={QTOKEN}"
    assert notify.redacted(url) == "https://hooks.example.com/..."
    text = notify.scrub(f"failed {url} and {TOKEN} and {QTOKEN}", url)
    assert TOKEN not in text and QTOKEN not in text


def test_daily_exit_code_is_the_worst_of_its_steps(
    synth_lake: Path, quick_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert worst([0, 3, 75]) == 75 and worst([75, 2, 0]) == 2 and worst([]) == 0
    assert worst([0, 3]) == 3 and worst([130, 1]) == 130
    hook = Hook()
    root = tmp_path / "out"
    argv = ["daily", "--lake", str(synth_lake), "--output-root", str(root), "--config",
            str(quick_config), "--today", "2023-07-01", "--quiet"]  # fmt: skip
    with webhook(hook) as url:
        # the synthetic lake was not written by majors-alts import: the update step is refused
        # (exit 2), the signal is issued all the same, the command exits 2, the alert says so
        code, out = _main(capsys, [*argv, "--notify", url])
        assert code == 2 and "update binance-archive" in out
        m = hook.received[-1]
        assert m["command"] == "daily" and m["event"] == "failed"
        assert m["steps"] == {"update binance-archive": 2, "signals": 0}
        assert m["decision_date"] == "2023-06-30" and "update binance-archive" in m["error"]
        recs = ledger.read(root / "reports/majors_alts/ledger")
        assert [r["command"] for r in recs] == ["daily"]
        # without the update: exit 0, the same call is not recorded twice
        code, _ = _main(capsys, [*argv, "--no-update", "--notify", url])
        assert code == 0 and hook.received[-1]["steps"] == {"signals": 0}
        assert len(ledger.read(root / "reports/majors_alts/ledger")) == 1
