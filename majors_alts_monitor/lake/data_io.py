"""Read-only access to the data lake (see ``shared/docs/LAKE_CONTRACT.md``).

This is the only module that knows where the lake is. It never writes, creates or moves
anything under the lake folder or the DuckDB file: parquet is scanned lazily with the date
window pushed down, DuckDB is opened with ``read_only=True``.

Rules applied to every table, in this order (each stated, logged and tested):

1. A table is ``NAME.parquet`` or a folder ``NAME/`` of parquet files (hive partitions allowed);
   when neither exists the DuckDB table/view ``NAME`` is used; where both exist the parquet
   wins and the reader says so once.
2. Required columns must exist with a usable type (``date``: Date, or Datetime at midnight;
   values: any numeric, cast to float64; ``asset_id``: string). Otherwise ``LakeError``.
3. ``asset_id`` is upper-cased and normalised: ``-PERP``, ``PERP``, ``-USDT``, ``USDT``,
   ``-USD``, ``USD`` suffixes are stripped when what remains is a known asset (one in
   ``fact_price`` or ``dim_asset``), then config aliases apply (``SATS -> 1000SATS``).
4. Null keys are an error. Rows with a null or non-finite value are missing data and dropped
   (counted). Non-positive ``close`` or negative cap/volume/open interest, rows dated before
   2009-01-03 or after the machine's UTC date + 1 (no data can be dated there), and values
   beyond physical sense (a close
   outside 1e-12..1e12 USD, a cap, volume or open interest above 1e15 USD, ``|funding_rate|``
   above 1 a day): dropped with one warning each (``data.on_bad_values: drop``) or refused
   (``error``).
5. Identical duplicate rows are dropped (counted). Rows that share a key with different values
   are refused, naming the first key: fix the upstream writer, or drop one of them.
6. Stablecoins (``dim_asset.is_stable``) and the config's exclude list are removed.

Rows dated after today (``clock.today()``, pinned by ``--today``) that the clock allows are
the future seen from today: cut (point in time), counted under their own reason
(``tables.FUTURE_REASON``) with a note, never broken rows and not in the shares below.

Every row left out is counted per table and reason (``LakeData.rejected``, the manifest's
``rejected_rows``). Missing and duplicate rows above ``limits.rejected_rows_warn_share`` of a
table are a warning; broken rows (rule 4's bad values) above ``limits.rejected_rows_error_share``
refuse the lake. A window read never hides a broken row: rows with a null or out-of-range date
reach the checks whatever the window.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Literal

import polars as pl

from ..config import Config
from ..errors import LakeError, OutputLocationError
from ..publish.layout import STORE_DIR, LakeOut, OutputRoot
from ..publish.paths import resolve
from .lake_data import REQUIRED_FACTS, LakeData, Source, rejected_rows, require_rows
from .scan import (
    collect,
    duckdb_connection,
    file_schema,
    missing_table_hint,
    other_formats,
    scan_partitions,
)
from .tables import (
    _EXTRA_REQUIRED,
    FUTURE_REASON,
    TABLES,
    TableSpec,
    _Report,
    date_bounds,
    validate_table,
)

log = logging.getLogger("majors_alts_monitor")

SUFFIXES = ("-PERP", "PERP", "-USDT", "USDT", "-USD", "USD")


def sort_rows(df: pl.DataFrame, cols: Sequence[str]) -> pl.DataFrame:
    """``df.sort(cols, maintain_order=True)`` (ascending, nulls first, rows with equal ``cols``
    kept in their order) as one stable pass per column, from the last to the first: polars sorts
    by one column several times faster than by a key of several with a string in it (the demo
    lake's ``fact_price``, 138,678 rows: 4 ms against 19 ms)."""
    for c in reversed(cols):
        df = df.sort(c, maintain_order=True)
    return df


def check_output_root(output_root: Path, lake_dir: Path, duckdb_path: Path | None = None) -> None:
    """Refuse an output root whose folders, symlinks followed, land inside the lake (or on the
    DuckDB file), and a documented output folder that is a foreign symlink
    (``publish.layout.OutputRoot.check``)."""
    OutputRoot(Path(output_root)).check([lake_dir], duckdb_path)


def ensure_output_root(output_root: Path, *, create: bool = True) -> None:
    """Create the output root if absent and refuse one that cannot hold the output folders (a
    file, a file in the way of ``reports/``, ``artifacts/`` or ``cache/``, or a place that
    cannot be created or written). Call it after ``check_output_root``, never for a root inside
    the lake. ``create=False``: the checks only, nothing created (a command that may still be
    refused, ``signals``, creates the root when it writes)."""
    root = Path(output_root)
    for target in (root, root / "reports", root / "artifacts", root / "cache"):
        if target.exists() and not target.is_dir():
            raise OutputLocationError(
                f"output location {target} exists and is not a folder. What to do: pass "
                "--output-root with a folder (it is created if absent), or move that file"
            )
    if not create and not root.exists():
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputLocationError(
            f"output root {root} cannot be created ({err.strerror or err}). What to do: pass "
            "--output-root with a folder you can write to"
        ) from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise OutputLocationError(
            f"output root {root} is not writable. What to do: pass --output-root with a folder "
            "you can write to"
        )


def normalise_symbol(sym: str, known: set[str], aliases: dict[str, str]) -> str:
    """Upper-case, strip ``SUFFIXES`` while what remains is a known asset, then apply aliases
    (keys and values upper-case)."""
    s = sym.strip().upper()
    for _ in range(3):
        if s in aliases:
            return aliases[s]
        if s in known:
            return s
        for suf in SUFFIXES:
            if s.endswith(suf) and len(s) > len(suf):
                rest = s[: -len(suf)]
                if rest in known or rest in aliases:
                    s = rest
                    break
        else:
            return s
    return aliases.get(s, s)


class LakeReader:
    """Read-only reader of one lake folder, with an optional DuckDB fallback."""

    def __init__(
        self,
        lake_dir: Path | str,
        duckdb_path: Path | str | None = None,
        *,
        aliases: dict[str, str] | None = None,
        exclude: Iterable[str] = (),
        on_bad_values: Literal["drop", "error"] = "drop",
        warn_share: float = 0.001,
        error_share: float = 0.05,
    ) -> None:
        self.lake_dir = Path(lake_dir)
        # one generation for every table this reader opens: a lake the importers wrote is
        # resolved once, here, so an update switching `current` meanwhile changes nothing read
        self.generation: Path | None = LakeOut(self.lake_dir).store.current()
        self._fingerprint: dict[str, object] | None = None
        self.duckdb_path = Path(duckdb_path) if duckdb_path is not None else None
        self.aliases = {k.upper(): v.upper() for k, v in (aliases or {}).items()}
        self.exclude = frozenset(x.upper() for x in exclude)
        self.on_bad_values = on_bad_values
        self.warn_share, self.error_share = warn_share, error_share
        self._duck_tables: set[str] | None = None
        self._normalised: tuple[set[str] | None, dict[str, str]] = (None, {})
        has_duck = self.duckdb_path is not None and self.duckdb_path.is_file()
        if self.lake_dir.is_dir() and not os.access(self.lake_dir, os.R_OK | os.X_OK):
            raise LakeError(
                "fact_price",
                f"the lake folder {self.lake_dir} cannot be read (permission denied)",
                hint="give this user read access to the lake folder, or pass another --lake",
            )
        if not self.lake_dir.is_dir() and not has_duck:
            raise LakeError(
                "fact_price",
                f"the lake folder {self.lake_dir} does not exist and no DuckDB file was found"
                + (f" at {self.duckdb_path}" if self.duckdb_path else ""),
                hint="pass --lake with the folder that holds fact_price.parquet, or --demo "
                "to run on a generated synthetic lake",
            )

    # ---- sources -------------------------------------------------------------------------
    def _duckdb_tables(self, table: str) -> set[str]:
        if self._duck_tables is None:
            self._duck_tables = set()
            if self.duckdb_path is not None and self.duckdb_path.is_file():
                with duckdb_connection(self.duckdb_path, table) as con:
                    rows = con.execute(
                        "select table_name from information_schema.tables"
                    ).fetchall()
                self._duck_tables = {r[0] for r in rows}
        return self._duck_tables

    def _file(self, table: str) -> Path:
        """``NAME.parquet`` as of the reader's generation: the generation's own file for a
        lake the importers wrote (never the link, which follows whatever is current now), else
        the lake folder's file (a table the importers do not manage)."""
        file = self.lake_dir / f"{table}.parquet"
        if self.generation is None:
            return file
        pinned = self.generation / f"{table}.parquet"
        if pinned.is_file():
            return pinned
        if file.is_symlink() and STORE_DIR in Path(os.readlink(file)).parts:
            return self.generation / f"{table}.parquet"  # a later generation's table: absent
        return file

    def source(self, table: str, report: _Report | None = None) -> Source | None:
        file = self._file(table)
        folder = self.lake_dir / table
        src: Source | None = None
        if file.is_file():
            src = Source(table, "parquet_file", file, (file,))
        elif folder.is_dir():
            try:
                files = tuple(sorted(folder.rglob("*.parquet")))
            except OSError as err:
                raise LakeError(
                    table,
                    f"the folder {folder} cannot be listed ({err.strerror or err})",
                    hint="give this user read access to the lake's folders",
                ) from None
            if files:
                src = Source(table, "parquet_dir", folder, files)
        in_duck = table in self._duckdb_tables(table)
        if src is not None:
            if in_duck and report is not None:
                report.note(
                    f"table '{table}' exists as parquet and in DuckDB {self.duckdb_path}; "
                    "the parquet wins"
                )
            return src
        if in_duck:
            assert self.duckdb_path is not None
            return Source(table, "duckdb", self.duckdb_path, (self.duckdb_path,))
        return None

    def fingerprint(self) -> dict[str, object]:
        """Each table's files with size and modification time (nothing is opened for writing),
        of the reader's generation (taken once: the same record however late it is asked)."""
        if self._fingerprint is None:
            self._fingerprint = self._take_fingerprint()
        return self._fingerprint

    def _take_fingerprint(self) -> dict[str, object]:
        out: dict[str, object] = {"lake": str(resolve(self.lake_dir, "--lake")), "tables": {}}
        for name in TABLES:
            src = self.source(name)
            if src is None:
                continue
            out["tables"][name] = {  # type: ignore[index]
                "kind": src.kind,
                "files": [
                    {
                        "path": self.relative(f) if src.kind != "duckdb" else str(f),
                        "size": f.stat().st_size,
                        "mtime_ns": f.stat().st_mtime_ns,
                    }
                    for f in src.files
                ],
            }
        return out

    def relative(self, f: Path) -> str:
        """``f`` as the lake's readers name it: relative to the lake folder (a generation's
        file by its name in the lake, as its link is)."""
        if self.generation is not None and f.is_relative_to(self.generation):
            return str(f.relative_to(self.generation))
        return str(f.relative_to(self.lake_dir))

    # ---- scanning ------------------------------------------------------------------------
    def _scan(
        self,
        src: Source,
        spec: TableSpec,
        start: date | None,
        end: date | None,
        rep: _Report | None = None,
        columns: tuple[str, ...] | None = None,
    ) -> pl.DataFrame:
        """The table's rows in ``[start, end]``; with ``columns``, only those (pushed down to
        the scan) when the table has them all, else every column (so that a missing one is
        refused naming the table's columns, as without ``columns``)."""
        date_col = "date" if spec.dated else None
        if src.kind == "duckdb":
            with duckdb_connection(src.path, spec.name) as con:
                cols = [r[0] for r in con.execute(f'describe "{spec.name}"').fetchall()]
                what = "*"
                if columns is not None and set(columns) <= set(cols):
                    what = ", ".join(f'"{c}"' for c in columns)
                sql = f'select {what} from "{spec.name}"'
                params: list[object] = []
                if date_col and date_col in cols and (start or end):
                    lo, hi = date_bounds()  # broken dates reach the checks whatever the window
                    sql += (
                        f" where cast({date_col} as date) between ? and ? or {date_col} is null"
                        f" or cast({date_col} as date) < ? or cast({date_col} as date) > ?"
                    )
                    params = [start or date(1900, 1, 1), end or date(2999, 12, 31), lo, hi]
                rel = con.sql(sql, params=params or None)
                # duckdb >= 1.4 names it to_arrow_table (2.0 dropped the older names)
                to_arrow = getattr(rel, "to_arrow_table", None) or rel.arrow
                df = pl.from_arrow(to_arrow())
            assert isinstance(df, pl.DataFrame)
            return df
        if src.kind == "parquet_file":
            file_schema(src.path, spec.name)
            lf = pl.scan_parquet(src.path)
        else:
            required = (*spec.key, *spec.values, *_EXTRA_REQUIRED.get(spec.name, ()))
            lf = scan_partitions(
                spec.name, src.path, src.files, required, rep.note if rep else log.debug
            )
        schema = lf.collect_schema()
        if date_col and date_col in schema and (start or end):
            dt = schema[date_col]
            col = pl.col(date_col)
            if isinstance(dt, pl.Datetime):
                col = col.dt.date()
            if dt == pl.Date or isinstance(dt, pl.Datetime):
                lo, hi = date_bounds()  # broken dates reach the checks whatever the window
                inside = pl.lit(True)
                if start:
                    inside = inside & (col >= start)
                if end:
                    inside = inside & (col <= end)
                lf = lf.filter(inside | col.is_null() | (col < lo) | (col > hi))
        if columns is not None and set(columns) <= set(schema):
            lf = lf.select(columns)
        return collect(lf, spec.name, src.files)

    def _known_assets(
        self, start: date | None, end: date | None, price: pl.DataFrame | None = None
    ) -> set[str]:
        """The asset ids of ``fact_price`` (``price``: its rows for the window, already
        scanned) and ``dim_asset``, upper-cased and aliased: the ids suffixes are stripped to."""
        known: set[str] = set()
        for name in ("fact_price", "dim_asset"):
            src = self.source(name)
            if src is None:
                continue
            if name == "fact_price" and price is not None:
                df = price
            else:
                df = self._scan(src, TABLES[name], start, end, columns=("asset_id",))
            if "asset_id" in df.columns and df.schema["asset_id"] == pl.String:
                known |= {a.strip().upper() for a in df["asset_id"].unique().drop_nulls().to_list()}
        return {self.aliases.get(a, a) for a in known}

    def normalise_symbol(self, sym: str, known: set[str]) -> str:
        # one read passes one ``known`` set to every table: remember its answers (a
        # whole-market lake repeats 15,000 ids in each table)
        if self._normalised[0] is not known:
            self._normalised = (known, {})
        memo = self._normalised[1]
        if sym not in memo:
            memo[sym] = normalise_symbol(sym, known, self.aliases)
        return memo[sym]

    # ---- public ----------------------------------------------------------------------------
    def read_table(
        self,
        name: str,
        start: date | None,
        end: date | None,
        known: set[str],
        rep: _Report,
        *,
        columns: tuple[str, ...] | None = None,
        duplicates: bool = True,
        scanned: tuple[Source, pl.DataFrame] | None = None,
    ) -> tuple[Source, pl.DataFrame] | None:
        """One table scanned and validated (rules 1-5), or None when an optional one is absent.
        ``columns``: read only those (``_scan``); ``duplicates=False``: rule 5 is the caller's
        (``validate_table``); ``scanned``: what ``scan_table`` gave (not scanned again)."""
        got = scanned or self.scan_table(name, start, end, rep, columns)
        if got is None:
            return None
        src, raw = got
        return src, validate_table(
            raw,
            TABLES[name],
            known,
            rep,
            self.normalise_symbol,
            self.on_bad_values,
            duplicates=duplicates,
        )

    def scan_table(
        self,
        name: str,
        start: date | None,
        end: date | None,
        rep: _Report,
        columns: tuple[str, ...] | None = None,
    ) -> tuple[Source, pl.DataFrame] | None:
        """Rule 1: where the table is, its rows for the window as stored (not validated); None
        when an optional table is absent (noted), a ``LakeError`` for a required one."""
        spec = TABLES[name]
        src = self.source(name, rep)
        if src is None:
            if spec.required:
                raise LakeError(
                    name,
                    f"not found in {self.lake_dir} (as {name}.parquet or {name}/)"
                    + (f" nor in {self.duckdb_path}" if self.duckdb_path else ""),
                    hint=missing_table_hint(self.lake_dir, name),
                )
            if name not in ("dim_asset", "universe_snapshots"):
                rep.note(
                    f"optional table '{name}' is absent: features and costs that need it are skipped"
                )
            if other_formats(self.lake_dir, name):
                rep.warn(f"optional table '{name}': {missing_table_hint(self.lake_dir, name)}")
            return None
        return src, self._scan(src, spec, start, end, rep, columns)

    def stables(self, dim_asset: pl.DataFrame | None) -> frozenset[str]:
        """Rule 6's assets: the config's exclude list and ``dim_asset.is_stable``."""
        out = set(self.exclude)
        if dim_asset is not None:
            out |= set(dim_asset.filter(pl.col("is_stable"))["asset_id"].to_list())
        return frozenset(out)

    def read(self, start: date | None = None, end: date | None = None) -> LakeData:
        """Read and validate every contract table for ``[start, end]`` (inclusive)."""
        rep = _Report()
        known = self._known_assets(start, end)
        tables: dict[str, pl.DataFrame] = {}
        sources: dict[str, Source] = {}
        for name in TABLES:
            got = self.read_table(name, start, end, known, rep)
            if got is not None:
                sources[name], tables[name] = got
                self.judge(name, rep)
        stables = self.stables(tables.get("dim_asset"))
        stable_caps = stable_caps_of(tables.get("dim_asset"), tables["fact_marketcap"])
        for name, df in list(tables.items()):
            if name == "dim_asset" or not df.height:
                continue
            tables[name] = sort_table(remove_stables(name, df, stables, rep))
        for name in REQUIRED_FACTS:
            require_rows(name, tables[name].height, start, end)
        s = start or tables["fact_price"]["date"].min()
        e = end or tables["fact_price"]["date"].max()
        return LakeData(
            tables=tables,
            sources=sources,
            start=s,
            end=e,  # type: ignore[arg-type]
            notes=tuple(rep.notes),
            warnings=tuple(rep.warnings),
            stables=stables,
            stable_caps=stable_caps,
            rejected=rejected_rows(rep),
        )

    def judge(self, name: str, rep: _Report) -> None:
        """The shares of ``name``'s rows left out (see the module docstring): a warning for
        missing or duplicate rows above the warn share; a ``LakeError`` when broken rows exceed
        the error share."""
        got = dict(rep.rejected.get(name, {}))
        # rows after today are the future seen from today, cut (point in time): neither broken
        # nor missing, and not in the base either (the share is of the rows up to today)
        future = got.pop(FUTURE_REASON, {"rows": 0})
        read = rep.rows_read.get(name, 0) - future["rows"]
        if read <= 0 or not got:
            return
        routine = {r: v for r, v in got.items() if "null" in r or "duplicate" in r}
        broken = {r: v for r, v in got.items() if r not in routine}
        n_broken = sum(v["rows"] for v in broken.values())
        if n_broken / read > self.error_share:
            r, v = next(iter(broken.items()))
            raise LakeError(
                name,
                f"{n_broken:,} of {read:,} rows ({n_broken / read:.1%}) are broken ({r}, ...), "
                f"more than limits.rejected_rows_error_share = {self.error_share:.1%}",
                key=v["first"],
                hint="fix the table upstream; or raise limits.rejected_rows_error_share if "
                "leaving these rows out is right",
            )
        n_routine = sum(v["rows"] for v in routine.values())
        if n_routine / read > self.warn_share:
            what = "; ".join(f"{r}: {v['rows']:,}" for r, v in routine.items())
            rep.warn(
                f"lake table '{name}': {n_routine:,} of {read:,} rows ({n_routine / read:.2%}) "
                f"left out as missing or duplicated ({what}), more than "
                f"limits.rejected_rows_warn_share = {self.warn_share:.2%}"
            )


def stable_caps_of(dim_asset: pl.DataFrame | None, caps: pl.DataFrame) -> pl.DataFrame | None:
    """The ``fact_marketcap`` rows (``asset_id``, ``date``, ``marketcap``) of the assets
    ``dim_asset`` flags ``is_stable``, read before rule 6 removes them (None without any)."""
    if dim_asset is None or not caps.height:
        return None
    flagged = sorted(set(dim_asset.filter(pl.col("is_stable"))["asset_id"].to_list()))
    got = caps.filter(pl.col("asset_id").is_in(flagged))
    if not got.height:
        return None
    return sort_rows(got.select("asset_id", "date", "marketcap"), ["date", "asset_id"])


def remove_stables(
    name: str, df: pl.DataFrame, stables: frozenset[str], rep: _Report
) -> pl.DataFrame:
    """Rule 6 on one table (a note counts the rows removed)."""
    n0 = df.height
    df = df.filter(~pl.col("asset_id").is_in(sorted(stables)))
    if df.height < n0:
        rep.note(f"{name}: removed {n0 - df.height} rows of stablecoins/excluded assets")
    return df


def sort_table(df: pl.DataFrame) -> pl.DataFrame:
    """Rows by the whole key (a funding row is one instrument's): rows never tie, so what is
    averaged over instruments comes in one order whatever the files' row order."""
    key = ("date", "asset_id", "rebalance_date", "instrument_id")
    return sort_rows(df, [c for c in key if c in df.columns])


def lake_span(reader: LakeReader) -> tuple[date, date]:
    """First and last date of ``fact_price`` (reads only the date column)."""
    src = reader.source("fact_price")
    if src is None:
        raise LakeError(
            "fact_price",
            f"not found in {reader.lake_dir} (as fact_price.parquet or fact_price/)",
            hint=missing_table_hint(reader.lake_dir, "fact_price"),
        )
    df = reader._scan(src, TABLES["fact_price"], None, None, columns=("date",))
    if "date" not in df.columns:
        raise LakeError(
            "fact_price",
            "required column 'date' is missing",
            column="date",
            hint="the lake's writer must provide it (see LAKE_CONTRACT.md)",
        )
    df = df.select("date")
    if isinstance(df.schema["date"], pl.Datetime):
        df = df.with_columns(pl.col("date").dt.date())
    if df.schema["date"] != pl.Date:
        raise LakeError(
            "fact_price",
            f"has type {df.schema['date']}, expected Date",
            column="date",
            hint="store dates as the parquet DATE type (calendar day, UTC)",
        )
    lo, hi = date_bounds()  # a row dated 2099 or 1900 does not stretch the span
    d = df["date"].filter(df["date"].is_between(lo, hi))
    if d.len() == 0:
        raise LakeError(
            "fact_price",
            f"has no rows dated between {lo} and today {hi}"
            + (f" ({df.height:,} rows outside)" if df.height else " (the table is empty)"),
            hint="fill the table (`majors-alts check-lake` lists what it holds)",
        )
    return d.min(), d.max()  # type: ignore[return-value]


def reader_for(cfg: Config, lake: Path | None = None, duckdb: Path | None = None) -> LakeReader:
    """The reader of ``lake`` (default ``cfg.paths.data_lake``) with the config's aliases,
    exclusions, bad-value policy and rejected-row thresholds."""
    return LakeReader(
        cfg.paths.data_lake if lake is None else lake,
        duckdb,
        aliases=cfg.universe.aliases,
        exclude=cfg.universe.exclude,
        on_bad_values=cfg.data.on_bad_values,
        warn_share=cfg.limits.rejected_rows_warn_share,
        error_share=cfg.limits.rejected_rows_error_share,
    )
