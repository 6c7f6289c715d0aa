"""Issue 17: every case the outside fault and bad-input audit reproduced, as a test. Each one
either exits 2 with a message naming the file or key and what to do, or gives a correct
output with a word about what was left out; never a traceback, never a silent wrong number.

Case 1 (commits torn by SIGINT, EIO, SIGKILL) is ``tests/publish/test_fault_injection.py``;
case 9 (markup in labels) and the damaged plotly cache are in ``tests/dashboard``. The rest:
2 concurrent imports, 3 the lock, 4 writes into the lake through a symlink, 5 tracebacks where
exit 2 was promised, 6 silent wrong outputs, 7 limits, 8 misleading messages, 10 the SIGINT
test.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from majors_alts_monitor import cli
from majors_alts_monitor.errors import PublishError
from majors_alts_monitor.lake.synthetic import SyntheticSpec, generate, write_lake
from majors_alts_monitor.morning.verify import verify
from majors_alts_monitor.publish import fsops
from majors_alts_monitor.publish.layout import writing_outputs
from majors_alts_monitor.tests.snapshots import file_stat_snapshot

SPEC = SyntheticSpec(n_assets=12, start=date(2020, 1, 1), end=date(2021, 8, 31), seed=23)
SMALL = (
    "walkforward:\n  train_days: 200\n  test_days: 60\nstats:\n  n_boot: 100\n"
    "report:\n  robustness: false\n"
)
TODAY = "2026-12-01"  # the clock every command here runs at (--today)
DAY_MS = 86_400_000
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out, _ = write_lake(generate(SPEC), tmp_path_factory.mktemp("synth"))
    return out


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("cfg") / "small.yaml"
    p.write_text(SMALL)
    return p


def damaged(lake: Path, tmp: Path, table: str, fn: Callable[[pl.DataFrame], pl.DataFrame]) -> Path:
    """A copy of ``lake`` with ``table`` rewritten by ``fn``."""
    out = tmp / "damaged"
    shutil.copytree(lake, out)
    df = fn(pl.read_parquet(out / f"{table}.parquet"))
    df.write_parquet(out / f"{table}.parquet")
    return out


def set_value(asset: str, day: date, col: str, value: float) -> Callable:
    def fn(d: pl.DataFrame) -> pl.DataFrame:
        hit = (pl.col("asset_id") == asset) & (pl.col("date") == day)
        assert d.filter(hit).height >= 1
        return d.with_columns(pl.when(hit).then(value).otherwise(pl.col(col)).alias(col))

    return fn


def add_row(asset: str, day: date, col: str, value: float) -> Callable:
    def fn(d: pl.DataFrame) -> pl.DataFrame:
        row = d.filter(pl.col("asset_id") == asset).head(1)
        return pl.concat([d, row.with_columns(pl.lit(day).alias("date"), pl.lit(value).alias(col))])

    return fn


def run(lake: Path, cfg: Path, out: Path, *extra: str) -> int:
    return cli.main(
        ["run", "--lake", str(lake), "--config", str(cfg), "--output-root", str(out), "--quiet"]
        + ["--today", TODAY, *extra]
    )


def kpis(out: Path) -> dict:
    return json.loads((out / "reports/majors_alts/kpis.json").read_text())


def manifest(out: Path) -> dict:
    return json.loads((out / "artifacts/majors_alts/run_manifest.json").read_text())


def sane(k: dict) -> None:
    """KPIs a book of fractions of equity can have (the audit saw -1.5e306)."""
    for block in ("strategy", "benchmark_always_on"):
        for key in ("ann_return", "ann_vol", "max_drawdown", "total_funding"):
            v = k[block][key]
            assert v is None or abs(v) < 50, (block, key, v)


# ---- case 2: concurrent imports --------------------------------------------------------------
def epoch_ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def kline(d: date, close: float = 2.0, qv: str = "3799000000.5") -> str:
    t = epoch_ms(d)
    return f"{t},{close},{close},{close},{close},1,{t + DAY_MS - 1},{qv},1,1,1,0"


def klines_file(folder: Path, symbol: str, days: int = 40, first: date = date(2024, 1, 1)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"{symbol}-1d-2024-01.csv"
    p.write_text("\n".join(kline(first + timedelta(days=i)) for i in range(days)) + "\n")
    return p


def test_case2_concurrent_imports_into_one_lake_lose_nothing(tmp_path: Path) -> None:
    """Two imports of 5 assets each into one --out at once: both exit 0 and the lake holds 10
    assets, fact_price and fact_volume from the same set (the second waits for the lock and
    merges into what the first published)."""
    names = [f"A{i}X" for i in range(10)]
    for half, group in (("a", names[:5]), ("b", names[5:])):
        for n in group:
            klines_file(tmp_path / half, f"{n}USDT")
    for trial in range(2):
        out = tmp_path / f"lake{trial}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "majors_alts_monitor", "import", "binance-klines"]
                + [str(tmp_path / half), "--out", str(out), "--today", TODAY],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "MAJORS_ALTS_LOCK_WAIT_S": "60"},
            )
            for half in ("a", "b")
        ]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        assert not verify(out).problems
        for t in ("fact_price", "fact_volume"):
            assert sorted(pl.read_parquet(out / f"{t}.parquet")["asset_id"].unique()) == names


def test_case2_a_dead_importers_temporary_file_is_removed(tmp_path: Path) -> None:
    src = tmp_path / "in"
    klines_file(src, "AAAUSDT")
    out = tmp_path / "lake"
    out.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    left = out / f".fact_volume.parquet.tmp-{int(dead.stdout)}"  # an earlier version's leftover
    left.write_bytes(b"half a parquet")
    assert cli.main(["import", "binance-klines", str(src), "--out", str(out)]) == 0
    assert not left.exists()


# ---- case 3: the lock ------------------------------------------------------------------------
def test_case3_cleaning_the_cache_does_not_let_a_second_writer_in(
    lake: Path, cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    root = tmp_path / "out"
    holder = (
        "import sys, time\n"
        "from majors_alts_monitor.publish.layout import writing_outputs\n"
        "with writing_outputs(sys.argv[1], wait_s=0):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", holder, str(root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        (root / "cache").mkdir(exist_ok=True)
        shutil.rmtree(root / "cache")  # `rm -rf OUT/cache` while the run holds the lock
        monkeypatch.setenv("MAJORS_ALTS_LOCK_WAIT_S", "0.3")
        assert run(lake, cfg, root) == 2
        err = capsys.readouterr().err
        assert f"in use by pid {p.pid}" in err and "Traceback" not in err
    finally:
        p.kill()
        p.wait()


def test_case3_a_lock_removed_while_held_publishes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "out"
    with writing_outputs(root) as out:
        out.publish_run({"reports/a.txt": b"1"}, command="test")
        (root / "reports/.majors_alts.lock").unlink()  # a clean-up script, a second writer
        with pytest.raises(PublishError, match="removed or replaced while this command held it"):
            out.publish_run({"reports/a.txt": b"2"}, command="test")
    assert (root / "reports/majors_alts/a.txt").read_text() == "1"
    assert not verify(root).problems


# ---- case 4: writes into the lake through a symlink ------------------------------------------
@pytest.mark.parametrize("where", ["reports/majors_alts", "reports", "root"])
def test_case4_an_output_path_linked_into_the_lake_is_refused(
    lake: Path, cfg: Path, tmp_path: Path, where: str, capsys
) -> None:
    snap = file_stat_snapshot(lake)
    target = lake / "sub"
    root = tmp_path / "out"
    if where == "root":
        root.symlink_to(lake)
    else:
        (root / Path(where).parent).mkdir(parents=True, exist_ok=True)
        (root / where).symlink_to(lake if where == "reports" else target)
    assert run(lake, cfg, root) == 2
    err = capsys.readouterr().err
    assert "inside the lake" in err and "Traceback" not in err
    assert file_stat_snapshot(lake) == snap and not target.exists()


# ---- case 5: tracebacks where exit 2 was promised --------------------------------------------
def test_case5_a_fact_price_without_rows(lake: Path, cfg: Path, tmp_path: Path, capsys) -> None:
    bad = damaged(lake, tmp_path, "fact_price", lambda d: d.head(0))
    assert run(bad, cfg, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "lake table 'fact_price'" in err and "no rows" in err and "Traceback" not in err
    assert cli.main(["check-lake", str(bad)]) == 2
    out = capsys.readouterr().out
    assert "ERROR lake table 'fact_price': has no rows" in out


def test_case5_a_close_of_1e_300_is_left_out_with_a_word(
    lake: Path, cfg: Path, tmp_path: Path, capsys
) -> None:
    alt = "ALT003"
    bad = damaged(lake, tmp_path, "fact_price", set_value(alt, date(2021, 3, 3), "close", 1e-300))
    out = tmp_path / "out"
    assert run(bad, cfg, out) == 0
    err = capsys.readouterr().err
    assert "beyond physical sense" in err and alt in err and "2021-03-03" in err
    sane(kpis(out))
    rej = manifest(out)["rejected_rows"]["fact_price"]["rejected"]
    assert rej["close beyond physical sense"]["rows"] == 1
    assert cli.main(["check-lake", str(bad), "--today", TODAY]) == 0
    assert "close beyond physical sense" in capsys.readouterr().out


def test_case5_an_unreadable_lake_folder(
    lake: Path, cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == lake else real_access(p, m))
    assert run(lake, cfg, tmp_path / "out") == 2  # (as root, chmod 000 would not stop a read)
    err = capsys.readouterr().err
    assert "cannot be read (permission denied)" in err and "Traceback" not in err


@pytest.mark.parametrize("option", ["--lake", "--duckdb", "--output-root"])
def test_case5_a_symlink_loop(lake: Path, cfg: Path, tmp_path: Path, option: str, capsys) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    args = {"--lake": lake, "--duckdb": None, "--output-root": tmp_path / "out"}
    args[option] = loop
    argv = ["run", "--config", str(cfg), "--quiet", "--today", TODAY]
    for k, v in args.items():
        if v is not None:
            argv += [k, str(v)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(loop) in err


def test_case5_config_files_that_cannot_be_read(lake: Path, tmp_path: Path, capsys) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 3000 + "]" * 3000 + "\n")
    big = tmp_path / "big.yaml"
    big.write_text("universe:\n  volume_lookback_days: 1.0e+29\n")
    for path, named in ((deep, "nested too deeply"), (big, "universe.volume_lookback_days")):
        assert cli.main(["run", "--config", str(path), "--lake", str(lake)]) == 2
        err = capsys.readouterr().err
        assert named in err and str(path) in err and "Traceback" not in err


def zip_of(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


def test_case5_a_corrupt_or_encrypted_zip_member(tmp_path: Path, capsys) -> None:
    member = "AAAUSDT-1d-2024-01.csv"
    body = (
        "\n".join(kline(date(2024, 1, 1) + timedelta(days=i)) for i in range(40)) + "\n"
    ).encode()
    good = zip_of(member, body)
    start = good.index(member.encode()) + len(member)  # the compressed data follows the name
    corrupt = (
        good[: start + 5]
        + bytes(b ^ 0x5A for b in good[start + 5 : start + 40])
        + good[start + 40 :]
    )
    encrypted = bytearray(good)
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):  # the "encrypted" flag, local and central headers
        i = encrypted.index(sig)
        flag_at = i + (6 if sig == b"PK\x03\x04" else 8)
        encrypted[flag_at] |= 1
    for label, data in (("corrupt", corrupt), ("encrypted", bytes(encrypted))):
        src = tmp_path / label
        src.mkdir()
        (src / "AAAUSDT-1d-2024-01.zip").write_bytes(data)
        assert cli.main(["import", "binance-klines", str(src), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert f"AAAUSDT-1d-2024-01.zip:{member}" in err and "cannot be read" in err
        assert "Traceback" not in err and not (tmp_path / "o/fact_price.parquet").exists()


def coingecko_file(folder: Path, name: str, extra: list[str] = ()) -> Path:  # type: ignore[assignment]
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["snapped_at,price,market_cap,total_volume"]
    d0 = date(2024, 1, 2)
    lines += [f"{d0 + timedelta(days=i)} 00:00:00 UTC,{100 + i}.5,1e9,2e8" for i in range(40)]
    lines += list(extra)
    p = folder / name
    p.write_text("\n".join(lines) + "\n")
    return p


def test_case5_a_coingecko_date_in_year_one(tmp_path: Path, capsys) -> None:
    f = coingecko_file(tmp_path / "cg", "aaa-usd-max.csv", ["0001-01-01 00:00:00 UTC,1.0,1e9,2e8"])
    assert cli.main(["import", "coingecko", str(f), "--out", str(tmp_path / "o")]) == 0
    cap = capsys.readouterr()
    assert (
        "dated before 2009-01-03 or after today" in cap.err and "aaa-usd-max.csv line 42" in cap.err
    )
    px = pl.read_parquet(tmp_path / "o/fact_price.parquet")
    assert px.height == 40 and px["date"].min() == date(2024, 1, 1)


def fail_at(kind: str, n: int = 1, err: int = errno.ENOSPC) -> Callable[[str, str], None]:
    seen = {"n": 0}

    def hook(op: str, path: str) -> None:
        if op == kind:
            seen["n"] += 1
            if seen["n"] == n:
                raise OSError(err, os.strerror(err), path)

    return hook


def test_case5_a_full_disk_for_run_sweep_and_import(
    lake: Path, cfg: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    assert run(lake, cfg, out) == 0
    before = kpis(out)["run_id"]
    capsys.readouterr()
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"lake: {lake}\nbase_config: {cfg}\ngrid:\n  costs.taker_fee_bps: [2]\n")
    src = tmp_path / "klines"
    klines_file(src, "AAAUSDT")
    commands = {
        "run": [
            "run",
            "--lake",
            str(lake),
            "--config",
            str(cfg),
            "--output-root",
            str(out),
            "--quiet",
            "--end",
            "2021-06-30",
        ],
        "sweep": ["sweep", str(sweep), "--workers", "0", "--output-root", str(out), "--quiet"],
        "import": ["import", "binance-klines", str(src), "--out", str(tmp_path / "lk")],
    }
    for name, argv in commands.items():
        with fsops.hooked(fail_at("write", 3)):
            assert cli.main(argv) == 2, name
        err = capsys.readouterr().err
        assert "No space left on device" in err and "nothing was published" in err, (name, err)
        assert "Traceback" not in err
    assert kpis(out)["run_id"] == before and not verify(out).problems


def test_case5_a_read_only_out_for_import_and_synth(tmp_path: Path, capsys) -> None:
    src = tmp_path / "klines"
    klines_file(src, "AAAUSDT")
    ro = Path("/proc/majors-alts-read-only")  # nothing can be created there, even by root
    assert cli.main(["import", "binance-klines", str(src), "--out", str(ro)]) == 2
    assert cli.main(["synth", str(ro)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 2 and "Traceback" not in err


def test_case5_a_closed_stdout_is_a_quiet_sigpipe_exit(
    lake: Path, cfg: Path, tmp_path: Path
) -> None:
    """``| true``: the reader is gone before the summary is written. Exit 141 (as a process
    ended by SIGPIPE), nothing on stderr, and the outputs published whole."""
    src = tmp_path / "klines"
    klines_file(src, "AAAUSDT")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"lake: {lake}\nbase_config: {cfg}\ngrid:\n  costs.taker_fee_bps: [2]\n")
    commands = {
        "import": ["import", "binance-klines", str(src), "--out", str(tmp_path / "lk")],
        "check-lake": ["check-lake", str(lake)],
        "synth": [
            "synth",
            str(tmp_path / "syn"),
            "--assets",
            "8",
            "--start",
            "2023-01-01",
            "--end",
            "2023-06-30",
        ],
        "sweep": [
            "sweep",
            str(sweep),
            "--workers",
            "0",
            "--output-root",
            str(tmp_path / "sw"),
            "--quiet",
        ],
    }
    for name, argv in commands.items():
        r, w = os.pipe()
        os.close(r)  # the reader is gone
        try:
            p = subprocess.run(
                [sys.executable, "-m", "majors_alts_monitor", *argv],
                stdout=w,
                stderr=subprocess.PIPE,
                text=True,
                timeout=600,
            )
        finally:
            os.close(w)
        assert p.returncode == 141, (name, p.returncode, p.stderr)
        assert p.stderr == "", (name, p.stderr)
    assert not verify(tmp_path / "lk").problems and not verify(tmp_path / "sw").problems


def test_case5_ctrl_c_while_the_console_script_loads() -> None:
    """The ``majors-alts`` console script, run as pip's wrapper runs it (the target named in
    pyproject.toml), interrupted while its modules load: exit 130, no traceback."""
    import tomllib

    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"][
        "majors-alts"
    ]
    module, func = target.split(":")
    wrapper = f"import sys\nfrom {module} import {func}\nsys.exit({func}())\n"
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-c", wrapper, "check-lake", "/nonexistent"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if "pydantic" in line:  # our package's modules are loading
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    err = "".join(seen) + err
    assert proc.returncode == 130 and "Traceback" not in err, err[-3000:]
    assert "interrupted; previous outputs are untouched" in err


class _Server:
    """A TCP peer on 127.0.0.1 that answers every connection with ``reply`` (or nothing)."""

    def __init__(self, reply: bytes | None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.reply is not None:
                try:
                    c.sendall(self.reply)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def test_case5_and_7_a_scheduler_that_is_not_one(
    lake: Path, cfg: Path, tmp_path: Path, capsys
) -> None:
    """A peer that sends garbage (dask read a length of 3 EiB: MemoryError), a web server that
    accepts and says nothing (13 minutes holding the lock), a ucx:// address (TypeError): exit 2
    within the connect timeout, and the output root's lock released."""
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"lake: {lake}\nbase_config: {cfg}\ngrid:\n  costs.taker_fee_bps: [2]\n")
    garbage = _Server(os.urandom(1 << 14))
    silent = _Server(None)
    try:
        cases = [
            (f"tcp://127.0.0.1:{garbage.port}", "cannot reach the Dask scheduler"),
            (
                f"tcp://127.0.0.1:{silent.port}",
                "did not complete the handshake within --connect-timeout 1",
            ),
            ("ucx://127.0.0.1:8786", "is not an address this sweep can use"),
        ]
        for address, said in cases:
            t = time.monotonic()
            argv = ["sweep", str(sweep), "--scheduler", address, "--connect-timeout", "1"]
            assert cli.main([*argv, "--output-root", str(tmp_path / "o"), "--quiet"]) == 2
            err = capsys.readouterr().err
            assert said in err and "Traceback" not in err, err
            assert time.monotonic() - t < 30
            with writing_outputs(tmp_path / "o", wait_s=0):  # the lock was released
                pass
    finally:
        garbage.close()
        silent.close()


def test_case7_a_cluster_without_workers(lake: Path, cfg: Path, tmp_path: Path, capsys) -> None:
    from dask.distributed import LocalCluster

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"lake: {lake}\nbase_config: {cfg}\ngrid:\n  costs.taker_fee_bps: [2, 3]\n")
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=":0") as cluster:
        argv = ["sweep", str(sweep), "--scheduler", cluster.scheduler_address]
        argv += ["--no-workers-timeout", "1", "--output-root", str(tmp_path / "o"), "--quiet"]
        assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "no workers for 1 s (--no-workers-timeout)" in err and "--resume" in err
    assert not verify(tmp_path / "o").problems  # what finished (nothing) is published


# ---- case 6: silent wrong outputs ------------------------------------------------------------
@pytest.mark.parametrize("day", [date(2099, 1, 1), date(1900, 1, 1)])
def test_case6_a_row_dated_2099_or_1900_does_not_stretch_the_run(
    lake: Path, cfg: Path, tmp_path: Path, day: date, capsys
) -> None:
    bad = damaged(lake, tmp_path, "fact_price", add_row("BTC", day, "close", 123.0))
    out = tmp_path / "out"
    assert run(bad, cfg, out) == 0
    err = capsys.readouterr().err
    assert "before 2009-01-03 (the first bitcoin block) or after today 2026-12-01" in err
    assert str(day) in err
    tl = pl.read_csv(out / "reports/majors_alts/regime_timeline.csv", try_parse_dates=True)
    assert tl["date"].min() == SPEC.start and tl["date"].max() == SPEC.end
    sig = json.loads((out / "reports/majors_alts/signals_today.json").read_text())
    assert sig["decision_date"] == sig["asof"] == str(SPEC.end)  # not stretched to the row
    # stale only by the lake's age against --today (a damaged copy carries no generator's
    # truth, so the clock applies: report/freshness.py), never by the out-of-range row
    assert sig["freshness"]["data_end"] == str(SPEC.end)
    assert sig["stale"] is sig["freshness"]["stale"]
    rej = manifest(out)["rejected_rows"]["fact_price"]["rejected"]["date out of range"]
    assert rej["rows"] == 1 and rej["first"]["date"] == str(day)


@pytest.mark.parametrize(
    ("table", "asset", "col", "value"),
    [("fact_price", "BTC", "close", 1e308), ("fact_funding", "ETH", "funding_rate", 1e6)],
)
def test_case6_values_beyond_physical_sense_are_left_out_with_a_word(
    lake: Path, cfg: Path, tmp_path: Path, table: str, asset: str, col: str, value: float, capsys
) -> None:
    day = date(2021, 2, 10)
    if table == "fact_funding":
        fn: Callable = lambda d: d.with_columns(  # noqa: E731
            pl.when((pl.col("asset_id") == asset) & (pl.col("date") == day))
            .then(value)
            .otherwise(pl.col(col))
            .alias(col)
        )
    else:
        fn = set_value(asset, day, col, value)
    bad = damaged(lake, tmp_path, table, fn)
    out = tmp_path / "out"
    assert run(bad, cfg, out) == 0
    err = capsys.readouterr().err
    assert f"lake table '{table}', column '{col}'" in err and "beyond physical sense" in err
    sane(kpis(out))


def test_case6_an_absurd_exposure_is_refused(lake: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "regime:\n  exposure:\n    RISK_ON_MAJORS: 1.0e+308\n    BALANCED: 0\n    RISK_ON_ALTS: 0\n"
    )
    assert cli.main(["run", "--config", str(bad), "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert "regime.exposure" in err and "Traceback" not in err


def test_case6_missing_prices_are_said_and_a_null_date_refused(
    lake: Path, cfg: Path, tmp_path: Path, capsys
) -> None:
    def holes(d: pl.DataFrame) -> pl.DataFrame:
        i = pl.int_range(pl.len())
        return d.with_columns(
            pl.when(i % 40 == 7)
            .then(float("nan"))
            .when(i % 40 == 9)
            .then(float("inf"))
            .otherwise(pl.col("close"))
            .alias("close")
        )

    bad = damaged(lake, tmp_path, "fact_price", holes)
    out = tmp_path / "out"
    assert run(bad, cfg, out) == 0
    err = capsys.readouterr().err
    assert "lake table 'fact_price'" in err and "left out as missing or duplicated" in err
    rej = manifest(out)["rejected_rows"]["fact_price"]["rejected"]["close null, NaN or infinite"]
    assert rej["rows"] > 100

    def null_date(d: pl.DataFrame) -> pl.DataFrame:
        i = pl.int_range(pl.len())
        return d.with_columns(pl.when(i == 5).then(None).otherwise(pl.col("date")).alias("date"))

    bad2 = damaged(lake, tmp_path / "n", "fact_volume", null_date)
    assert run(bad2, cfg, tmp_path / "out2", "--start", "2020-06-01") == 2  # a window too
    err = capsys.readouterr().err
    assert "lake table 'fact_volume'" in err and "null key" in err and "Traceback" not in err


def import_klines(
    tmp: Path, lines: list[str], name: str = "AAAUSDT-1d-2024-01.csv", **kw: str
) -> tuple[int, Path]:
    src = tmp / "in"
    src.mkdir(exist_ok=True)
    (src / name).write_text("".join(lines))
    out = tmp / "lk"
    argv = ["import", "binance-klines", str(src), "--out", str(out), "--today", TODAY]
    for k, v in kw.items():
        argv += [k, v]
    return cli.main(argv), out


GOOD = [kline(date(2024, 1, 1) + timedelta(days=i)) + "\n" for i in range(40)]


def test_case6_a_truncated_last_line_is_rejected_not_imported(tmp_path: Path, capsys) -> None:
    cut = kline(date(2024, 2, 10)).split(",")[:8]
    cut[7] = "3799"  # cut inside quote_volume, no newline at the end
    code, out = import_klines(tmp_path, [*GOOD, ",".join(cut)])
    assert code == 0
    err = capsys.readouterr().err
    assert "malformed or truncated line (8 fields, 12 expected)" in err and "line 41" in err
    vol = pl.read_parquet(out / "fact_volume.parquet")
    assert vol.height == 40 and (vol["volume"] > 1e9).all()


@pytest.mark.parametrize(
    ("prefix", "kept", "said"),
    [("\ufeff", True, "byte-order mark: removed"), ("\x00", False, "NUL byte"), ("+", True, None)],
)
def test_case6_a_mark_before_the_first_candle_never_loses_it_silently(
    tmp_path: Path, prefix: str, kept: bool, said: str | None, capsys
) -> None:
    code, out = import_klines(tmp_path, [prefix + GOOD[0], *GOOD[1:]])
    assert code == 0
    cap = capsys.readouterr()
    px = pl.read_parquet(out / "fact_price.parquet")
    assert (date(2024, 1, 1) in px["date"].to_list()) is kept
    if said is not None:
        assert said in cap.out + cap.err
    if not kept:
        assert "line 1" in cap.err  # rejected, with where


def test_case6_bad_prices_funding_and_dates_in_imports(tmp_path: Path, capsys) -> None:
    day = date(2024, 3, 1)
    bad = [
        kline(day, close=float("inf")) + "\n",
        kline(day + timedelta(days=1), close=float("nan")) + "\n",
        kline(day + timedelta(days=2), close=-3.0) + "\n",
        kline(date(2099, 1, 1)) + "\n",
        kline(date(1969, 12, 31)) + "\n",
        kline(date(2024, 3, 9), close=1e300) + "\n",
    ]
    many = GOOD + [kline(date(2024, 4, 1) + timedelta(days=i)) + "\n" for i in range(100)]
    code, out = import_klines(tmp_path, [*many, *bad])
    assert code == 0
    err = capsys.readouterr().err
    for said in (
        "close missing or <= 0",
        "date before 2009-01-03 or after today",
        "beyond physical sense",
    ):
        assert said in err, said
    px = pl.read_parquet(out / "fact_price.parquet")
    assert px["close"].is_finite().all() and (px["close"] > 0).all() and (px["close"] < 1e12).all()
    assert px["date"].max() < date(2099, 1, 1) and px["date"].min() > date(2009, 1, 3)
    # funding: a settlement of 1e308 and an infinite one are refused, never summed
    fsrc = tmp_path / "fund"
    fsrc.mkdir()
    rows = ["calc_time,funding_interval_hours,last_funding_rate"]
    for i in range(30):
        for h in (0, 8, 16):
            rate = "1e308" if (i, h) == (3, 8) else "inf" if (i, h) == (4, 0) else "0.0001"
            rows.append(
                f"{epoch_ms(date(2024, 1, 1) + timedelta(days=i)) + h * 3_600_000},8,{rate}"
            )
    (fsrc / "AAAUSDT-fundingRate-2024-01.csv").write_text("\n".join(rows) + "\n")
    assert cli.main(["import", "binance-funding", str(fsrc), "--out", str(tmp_path / "f")]) == 0
    f = pl.read_parquet(tmp_path / "f/fact_funding.parquet")
    assert f["funding_rate"].is_finite().all() and f["funding_rate"].abs().max() <= 1


def test_case6_and_import_refused_above_the_error_share(tmp_path: Path, capsys) -> None:
    broken = [kline(date(2024, 3, 1) + timedelta(days=i), close=-1.0) + "\n" for i in range(10)]
    code, out = import_klines(tmp_path, [*GOOD, *broken])
    assert code == 2
    err = capsys.readouterr().err
    assert "limits.rejected_rows_error_share" in err and "nothing was written" in err
    assert not out.exists() or not (out / "fact_price.parquet").exists()


def test_case6_a_file_name_without_an_asset(tmp_path: Path, capsys) -> None:
    f = coingecko_file(tmp_path / "cg", "-usd-max.csv")
    assert cli.main(["import", "coingecko", str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "-usd-max" in err and "--asset-id" in err and "Traceback" not in err


# ---- case 7: limits --------------------------------------------------------------------------
def test_case7_a_64_million_point_grid_is_refused_before_it_is_built(
    lake: Path, tmp_path: Path, capsys
) -> None:
    sweep = tmp_path / "huge.yaml"
    values = list(range(40))
    grid = {f"costs.{k}": values for k in ("taker_fee_bps", "maker_fee_bps", "slippage_floor_bps")}
    grid["universe.basket_size"] = list(range(1, 1001))
    sweep.write_text(json.dumps({"lake": str(lake), "grid": grid}))  # JSON is YAML
    t = time.monotonic()
    assert (
        cli.main(["sweep", str(sweep), "--workers", "0", "--output-root", str(tmp_path / "o")]) == 2
    )
    err = capsys.readouterr().err
    assert "64,000,000 points" in err and "limits.sweep_points_max = 10,000" in err
    assert time.monotonic() - t < 20


def test_case7_n_boot_above_its_limit(lake: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "boot.yaml"
    bad.write_text("stats:\n  n_boot: 100000000\n")
    assert cli.main(["run", "--config", str(bad), "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert "stats.n_boot = 100,000,000 is above limits.n_boot_max = 100,000" in err


def test_case7_a_zip_member_that_inflates_too_far(tmp_path: Path, capsys) -> None:
    src = tmp_path / "bomb"
    src.mkdir()
    body = ("\n".join(GOOD) * 2000).encode()  # about 7 MB, a few hundred KB compressed
    (src / "AAAUSDT-1d-2024-01.zip").write_bytes(zip_of("AAAUSDT-1d-2024-01.csv", body))
    argv = [
        "import",
        "binance-klines",
        str(src),
        "--out",
        str(tmp_path / "o"),
        "--max-member-mb",
        "1",
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "--max-member-mb 1" in err and "zip bomb" in err and "Traceback" not in err


# ---- case 8: misleading messages -------------------------------------------------------------
def test_case8_an_empty_marketcap_table_is_named(
    lake: Path, cfg: Path, tmp_path: Path, capsys
) -> None:
    bad = damaged(lake, tmp_path, "fact_marketcap", lambda d: d.head(0))
    assert run(bad, cfg, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "lake table 'fact_marketcap'" in err and "no rows" in err
    assert "score_features" not in err


def test_case8_a_major_flagged_as_a_stablecoin_is_named(
    lake: Path, cfg: Path, tmp_path: Path, capsys
) -> None:
    bad = damaged(
        lake,
        tmp_path,
        "dim_asset",
        lambda d: d.with_columns(
            pl.when(pl.col("asset_id") == "BTC")
            .then(True)
            .otherwise(pl.col("is_stable"))
            .alias("is_stable")
        ),
    )
    assert run(bad, cfg, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "dim_asset.is_stable" in err and "BTC" in err and "has no prices" not in err


# ---- case 10: the SIGINT test under an ignored SIGINT ----------------------------------------
def test_case10_the_sigint_test_passes_when_the_suite_ignores_sigint() -> None:
    """Started in the background by a scheduler, a process inherits SIGINT ignored; the test of
    ``sigint_deferred`` installs Python's own handler first, so it passes there too."""
    test = "majors_alts_monitor/tests/test_cli_e2e.py::test_sigint_is_held_during_the_kernel_and_raised_after"
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert r.returncode == 0, r.stdout[-3000:]


def test_case6_a_damaged_demo_lake_in_the_cache_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cache files are checked against their hash before reuse: the demo lake too."""
    from majors_alts_monitor.lake import demo

    monkeypatch.setattr(demo, "DEMO_ASSETS", 8)
    lake_dir = demo.ensure_demo_lake(tmp_path, say=lambda m: None)
    want = pl.read_parquet(lake_dir / "fact_price.parquet")
    stamp = (lake_dir / "fact_price.parquet").stat().st_mtime_ns
    assert demo.ensure_demo_lake(tmp_path, say=lambda m: None) == lake_dir  # whole: reused
    assert (lake_dir / "fact_price.parquet").stat().st_mtime_ns == stamp
    want.head(10).write_parquet(lake_dir / "fact_price.parquet")  # valid parquet, other rows
    demo.ensure_demo_lake(tmp_path, say=lambda m: None)
    assert pl.read_parquet(lake_dir / "fact_price.parquet").equals(want)
