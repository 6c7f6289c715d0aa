"""``majors-alts update binance-archive``: top up a lake the importers wrote from the Binance
public-data archive (``archive.py`` for the layout, ``fetch.py`` for the downloads).

For each symbol (the lake's, or ``--symbols``) and dataset, only the days after the lake's last
day for it are fetched (``--start`` to go back): whole months from the monthly file, the
current and the previous month from daily files until the month's file is out (spot klines);
funding from monthly files only (the archive has no daily funding files: the running month is
pending until its file is published); open interest from daily files. Every file is verified
against its ``.CHECKSUM`` before use. What a file "not there" means depends on where it is:

- after the last file the archive has for the symbol, within ``PENDING_DAYS`` of today (a month's
  file within ``PENDING_MONTH_DAYS`` of the month's end): **pending**, not an error; the next
  update fetches it;
- after it, and older: the symbol **stopped** (delisted, renamed or halted): a note;
- before the symbol's first file (a later listing): nothing to say;
- between two files the archive has: a **hole**: an error naming the file (the lake is left as
  it was), unless ``--allow-gaps``.

Corrections: a month whose days came from daily files is replaced by its monthly file once that
is published, and a file the lake was built from that the archive now announces with another
checksum (checked for files covering the last ``--recheck-days`` days) is fetched again; both
replace what they cover and are listed as revisions (rows changed), never refused as conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import polars as pl

from ... import clock
from ...errors import LimitError, MonitorError
from . import archive as ar
from . import manifest as mf
from .commands import funding_tables, instrument_id, klines_tables, metrics_tables
from .common import Drops, InputFile, read_bytes
from .fetch import Archive, Fetched, FetchError, run_all
from .inputs import MEMBER_MB_DEFAULT
from .merge import Revision
from .update_targets import Target

PENDING_DAYS = 3  # a day's file is published hours, sometimes a day or two, after the close
PENDING_MONTH_DAYS = 10  # a month's file in the first days (the first Monday) of the next month
LISTING_DAYS = 62  # longer spans are listed first instead of probed file by file


@dataclass
class Probe:
    """One archive file considered: ``sha`` once its checksum is read (None: not there)."""

    target: Target
    period: str  # YYYY-MM or YYYY-MM-DD
    role: str = "new"  # "new" | "supersede" (a monthly file replacing daily ones) | "recheck"
    sha: str | None = None

    @property
    def path(self) -> str:
        return self.target.ds.path(self.target.symbol, self.period)

    @property
    def name(self) -> str:
        return self.target.ds.name(self.target.symbol, self.period)

    @property
    def span(self) -> tuple[date, date]:
        if len(self.period) == 10:
            d = date.fromisoformat(self.period)
            return d, d
        return ar.month_span(self.period)


@dataclass
class Outcome:
    """What an update found: files fetched, pending and stopped symbols, holes, revisions."""

    fetched: list[tuple[Probe, Fetched]] = field(default_factory=list)
    pending: dict[str, list[str]] = field(default_factory=dict)  # dataset label -> "SYM period"
    stopped_at: list[tuple[Target, date]] = field(default_factory=list)
    holes: list[Probe] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def previous_month_start(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def recorded_period(f: mf.FileRecord) -> str:
    return f.first.isoformat() if f.kind == "daily" else ar.month_of(f.first)


def plan_first(t: Target, end: date, today: date, recheck_days: int) -> list[Probe]:
    """The probes that need no other answer first: monthly files of the wanted months (spot
    klines, funding), daily files (open interest), months resting on daily files (to replace
    by their monthly file), and recent recorded files (to recheck)."""
    monthly = {recorded_period(f) for f in t.recorded if f.kind == "monthly"}
    on_daily = set()
    if t.ds.monthly and t.ds.daily:
        on_daily = {
            ar.month_of(f.first)
            for f in t.recorded
            if f.kind == "daily" and ar.month_of(f.first) not in monthly
        } - {ar.month_of(today)}
    probes: list[Probe] = []
    if t.first <= end:
        if t.ds.monthly:
            probes += [
                Probe(t, m, "supersede" if m in on_daily else "new")
                for m in ar.months(t.first, end)
            ]
        else:
            probes += [Probe(t, d.isoformat()) for d in ar.days(t.first, end)]
    planned = {p.period for p in probes}
    probes += [Probe(t, m, "supersede") for m in sorted(on_daily - planned)]
    planned |= on_daily
    recent = today - timedelta(days=recheck_days)
    for f in t.recorded:
        per = recorded_period(f)
        if (
            f.kind in ("monthly", "daily")
            and f.last >= recent
            and per not in planned
            and f.name == t.ds.name(t.symbol, per)
        ):
            probes.append(Probe(t, per, "recheck"))
            planned.add(per)
    return probes


def plan_daily(first: list[Probe], end: date, today: date) -> list[Probe]:
    """Spot klines: the days of the current and the previous month (inside the wanted span)
    whose monthly file is not out yet."""
    recent = previous_month_start(today)
    out = []
    for p in first:
        if p.role != "new" or not p.target.ds.daily or p.sha is not None or len(p.period) != 7:
            continue
        a, b = ar.month_span(p.period)
        if b < recent:
            continue
        a, b = max(a, p.target.first), min(b, end)
        out += [Probe(p.target, d.isoformat()) for d in ar.days(a, b)] if a <= b else []
    return out


def classify(probes: list[Probe], today: date, out: Outcome) -> None:
    """Sort the probes without a file of each target into pending, stopped and holes (module
    docstring); monthly spot files replaced by daily probes are left out."""
    by_target: dict[tuple[str, str], list[Probe]] = {}
    for p in probes:
        if p.role == "new":
            by_target.setdefault((p.target.ds.key, p.target.symbol), []).append(p)
    recent = previous_month_start(today)
    for ps in by_target.values():
        t = ps[0].target
        has = sorted(p.span for p in ps if p.sha is not None)
        # a monthly spot file of a recent month that is not out is covered by its daily probes
        missing = [
            p
            for p in ps
            if p.sha is None and not (t.ds.daily and len(p.period) == 7 and p.span[1] >= recent)
        ]
        if not missing:
            continue
        first_has = has[0][0] if has else None
        last_has = max((b for _, b in has), default=None)
        before = t.lake_last
        tail: list[Probe] = []
        for p in sorted(missing, key=lambda p: p.span):
            a, b = p.span
            earlier = (before is not None and before < a) or (
                first_has is not None and first_has < a
            )
            later = last_has is not None and last_has > b
            if earlier and later:
                out.holes.append(p)
            elif later or not earlier:
                continue  # before the symbol's first file: a later listing
            else:
                tail.append(p)
        if not tail:
            continue
        stale = [p for p in tail if not _may_be_pending(p, today)]
        if stale:
            since = max(d for d in (last_has, before) if d is not None)
            out.stopped_at.append((t, since))
        else:
            periods = [p.period for p in tail]
            shown = periods[0] if len(periods) == 1 else f"{periods[0]}..{periods[-1]}"
            out.pending.setdefault(t.ds.label, []).append(f"{t.symbol} {shown}")


def stopped_lines(out: Outcome) -> list[str]:
    """The symbols found stopped, one line per dataset and last day."""
    groups: dict[tuple[str, date], list[str]] = {}
    for t, d in out.stopped_at:
        groups.setdefault((t.ds.label, d), []).append(t.symbol)
    return [
        f"{label}: no file after {d} for {len(syms)} symbols ({', '.join(sorted(syms)[:6])}"
        f"{', ...' if len(syms) > 6 else ''}): delisted, renamed or halted? (later updates "
        "skip them; --symbols looks again)"
        for (label, d), syms in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    ]


def _may_be_pending(p: Probe, today: date) -> bool:
    """A file that may still be published: a day within ``PENDING_DAYS`` of today, a month
    within ``PENDING_MONTH_DAYS`` of its end."""
    lag = PENDING_DAYS if len(p.period) == 10 else PENDING_MONTH_DAYS
    return p.span[1] >= today - timedelta(days=lag)


def hole_error(holes: list[Probe]) -> FetchError:
    p = holes[0]
    return FetchError(
        f"{p.name}.zip is not in the archive (no .CHECKSUM, HTTP 404) although the archive has "
        f"files for {p.target.symbol} before and after it"
        + (f" ({len(holes) - 1} more such files)" if len(holes) > 1 else "")
        + ". The lake is left as it was. What to do: run the update again later (the archive "
        "may still be publishing it), check --base-url, or pass --allow-gaps to accept the "
        "hole (the lake then misses those days)"
    )


def rows_of(
    ds: ar.Dataset,
    files: list[tuple[Probe, Fetched]],
    aliases: dict[str, str],
    known: set[str],
    partial: str,
    drops: Drops,
    notes: list[str],
    max_member_mb: int = MEMBER_MB_DEFAULT,
) -> tuple[dict[str, pl.DataFrame], list[mf.SourceRecord]]:
    """The tables one symbol's fetched files give (the importers' parsers, their drops counted
    per table with file and line), filed under the target's asset: a symbol the lake holds
    stays where the lake filed it (``--on-conflict replace`` with a re-import re-files it)."""
    inputs: list[InputFile] = []
    for _, f in files:
        name = f.path.rsplit("/", 1)[-1]
        try:
            inputs += read_bytes(name, f.data, max_member_mb)
        except LimitError:
            raise
        except MonitorError as err:
            raise FetchError(f"{name}: its CSV cannot be read ({err})") from None
    if ds is ar.SPOT_KLINES:
        t, r = klines_tables(inputs, aliases, drops)
    elif ds is ar.UM_FUNDING:
        t, r = funding_tables(inputs, aliases, partial, drops, notes, known)
    else:
        t, r = metrics_tables(inputs, aliases, drops, known)
    asset = files[0][0].target.asset_id
    t = {
        k: df.with_columns(pl.lit(asset).alias("asset_id")) if df.height else df
        for k, df in t.items()
    }
    r = [replace(x, asset_id=asset) for x in r]
    return t, r


def _within(tables: dict[str, pl.DataFrame], a: date, b: date) -> dict[str, pl.DataFrame]:
    return {
        k: (df.filter(pl.col("date").is_between(a, b)) if "date" in df.columns else df)
        for k, df in tables.items()
    }


def to_frames(
    fetched: list[tuple[Probe, Fetched]],
    aliases: dict[str, str],
    known: set[str],
    partial: str,
    drops: Drops,
    notes: list[str],
    windows: dict[tuple[str, str], tuple[date, date]],
    max_member_mb: int = MEMBER_MB_DEFAULT,
) -> tuple[dict[str, pl.DataFrame], list[Revision], list[mf.SourceRecord], list[str]]:
    """New rows (each symbol's inside its wanted window: days the lake holds are not touched),
    revisions (re-published or superseded files, one per file, up to the window's end) and the
    sources to record, from the verified files.

    A replayed morning (``--today`` earlier than the archive's last files, e.g. against a
    mirror) fetches files that cover days after today: those days are the replay's future, cut
    by each symbol's window, not broken rows; a row dated outside every fetched file's period
    still is (the parsers' date check then runs to the files' last day)."""
    latest = max((p.span[1] for p, _ in fetched), default=None)
    with clock.pinned(latest if latest is not None and latest > clock.today() else None):
        return _to_frames(fetched, aliases, known, partial, drops, notes, windows, max_member_mb)


def _to_frames(
    fetched: list[tuple[Probe, Fetched]],
    aliases: dict[str, str],
    known: set[str],
    partial: str,
    drops: Drops,
    notes: list[str],
    windows: dict[tuple[str, str], tuple[date, date]],
    max_member_mb: int,
) -> tuple[dict[str, pl.DataFrame], list[Revision], list[mf.SourceRecord], list[str]]:
    tables: dict[str, list[pl.DataFrame]] = {}
    revisions: list[Revision] = []
    records: list[mf.SourceRecord] = []
    revised_names: list[str] = []
    for ds in (ar.SPOT_KLINES, ar.UM_FUNDING, ar.UM_METRICS):
        mine = [(p, f) for p, f in fetched if p.target.ds is ds]
        new = [(p, f) for p, f in mine if p.role == "new"]
        by_symbol: dict[str, list[tuple[Probe, Fetched]]] = {}
        for p, f in new:
            by_symbol.setdefault(p.target.symbol, []).append((p, f))
        for sym, files in sorted(by_symbol.items()):
            a, b = windows[(ds.key, sym)]
            t, r = rows_of(ds, files, aliases, known, partial, drops, notes, max_member_mb)
            for name, df in _within(t, a, b).items():
                tables.setdefault(name, []).append(df)
            records += _with_targets(r, files, b)
        for p, f in mine:
            if p.role == "new":
                continue
            end = windows[(ds.key, p.target.symbol)][1]
            t, r = rows_of(ds, [(p, f)], aliases, known, partial, drops, notes, max_member_mb)
            a, b = p.span[0], min(p.span[1], end)
            t = _within(t, a, b)
            why = "monthly file replaces daily files" if p.role == "supersede" else "re-published"
            src = f"{p.name} ({why})"
            revised_names.append(src)
            for name, df in t.items():
                if name == "dim_instrument":
                    tables.setdefault(name, []).append(df)
                    continue
                col, val = (
                    ("asset_id", p.target.asset_id)
                    if ds is ar.SPOT_KLINES
                    else ("instrument_id", instrument_id(p.target.symbol))
                )
                revisions.append(Revision(name, df, col, val, a, b, src))
            records += _with_targets(r, [(p, f)], end)
    return {k: pl.concat(v) for k, v in tables.items()}, revisions, records, revised_names


def _with_targets(
    records: list[mf.SourceRecord], files: list[tuple[Probe, Fetched]], end: date
) -> list[mf.SourceRecord]:
    """The parsers' records, with each file's archive sha256 (the zip's), kind and the span
    the lake took from it (a month's file fetched mid-month covers the days through ``end``)."""
    by_name = {p.name: (p, f) for p, f in files}
    out = []
    for r in records:
        recs = []
        for fr in r.files:
            got = by_name.get(fr.name)
            if got is None:
                recs.append(fr)
                continue
            p, f = got
            a, b = p.span
            kind = "daily" if len(p.period) == 10 else "monthly"
            recs.append(mf.FileRecord(fr.name, f.sha256, kind, a, min(b, end)))
        last = min(r.last, end) if r.last is not None else None
        first = r.first if r.first is None or last is None else min(r.first, last)
        out.append(
            mf.SourceRecord(r.dataset, r.symbol, r.asset_id, first, last, tuple(recs), r.extra)
        )
    return out


def not_found_records(
    targets: list[Target], fetched: list[tuple[Probe, Fetched]], end: date
) -> list[mf.SourceRecord]:
    """Symbols new to the lake without a file yet: looked for through ``end`` (less the days
    that may still be published), so the next update starts after that."""
    found = {(p.target.ds.key, p.target.symbol) for p, _ in fetched}
    through = (end - timedelta(days=PENDING_DAYS)).isoformat()
    return [
        mf.SourceRecord(t.ds.key, t.symbol, t.asset_id, extra={"checked_through": through})
        for t in targets
        if t.lake_last is None and (t.ds.key, t.symbol) not in found and t.first <= end
    ]


def stop_records(out: Outcome, fetched_records: list[mf.SourceRecord]) -> list[mf.SourceRecord]:
    """Manifest records of the symbols found stopped (and of those found alive again)."""
    recs = [
        mf.SourceRecord(t.ds.key, t.symbol, t.asset_id, extra={"stopped_after": d.isoformat()})
        for t, d in out.stopped_at
    ]
    recs += [
        mf.SourceRecord(r.dataset, r.symbol, r.asset_id, extra={"stopped_after": ""})
        for r in fetched_records
    ]
    return recs


def probe_all(archive: Archive, probes: list[Probe], jobs: int) -> None:
    shas = run_all(lambda p: archive.checksum(p.path), probes, jobs)
    for p, sha in zip(probes, shas, strict=True):
        p.sha = sha


def _periods_in(names: list[str], stem: str) -> set[str]:
    return {n[len(stem) : -len(".zip")] for n in names if n.startswith(stem) and n.endswith(".zip")}


def listed(archive: Archive, t: Target, end: date, today: date) -> set[str] | None:
    """The periods the archive lists for a target's wanted span (monthly ``YYYY-MM`` and daily
    ``YYYY-MM-DD``), from a listing of its folders; None when the archive gives no listing."""
    stem = t.ds.name(t.symbol, "")
    out: set[str] = set()
    if t.ds.monthly:
        names = archive.list_files(t.ds.path(t.symbol, "2000-01").rsplit("/", 1)[0] + "/")
        if names is None:
            return None
        out |= _periods_in(names, stem)
    if t.ds.daily:
        folder = t.ds.path(t.symbol, "2000-01-01").rsplit("/", 1)[0] + "/"
        if t.ds.monthly:  # daily files are needed for the recent months only
            a = max(t.first, previous_month_start(today))
            for m in ar.months(a, end) if a <= end else []:
                names = archive.list_files(folder + stem + m)
                if names is None:
                    return None
                out |= _periods_in(names, stem)
        else:
            names = archive.list_files(folder)
            if names is None:
                return None
            out |= _periods_in(names, stem)
    return out


def run_update(
    archive: Archive,
    targets: list[Target],
    today: date,
    end: date,
    jobs: int,
    recheck_days: int,
    allow_gaps: bool,
) -> Outcome:
    """Probe, classify and fetch (nothing is written here)."""
    out = Outcome()
    first = [p for t in targets for p in plan_first(t, end, today, recheck_days)]
    # a new symbol or a long span: the archive's listing says which files exist (one request
    # per folder) instead of a probe per month or day
    long = [
        t
        for t in targets
        if t.first <= end and (t.lake_last is None or (end - t.first).days > LISTING_DAYS)
    ]
    lists = run_all(lambda t: listed(archive, t, end, today), long, jobs)
    avail = {(t.ds.key, t.symbol): got for t, got in zip(long, lists, strict=True)}

    def askable(ps: list[Probe]) -> list[Probe]:
        keep = []
        for p in ps:
            known = avail.get((p.target.ds.key, p.target.symbol))
            if known is None or p.role != "new" or p.period in known:
                keep.append(p)  # else not listed: not there, and not asked for
        return keep

    probe_all(archive, askable(first), jobs)
    second = plan_daily(first, end, today)
    probe_all(archive, askable(second), jobs)
    probes = first + second
    classify(probes, today, out)
    if out.holes and not allow_gaps:
        raise hole_error(out.holes)
    if out.holes:
        out.notes.append(
            f"{len(out.holes)} files missing between files the archive has (--allow-gaps): "
            + ", ".join(p.name for p in out.holes[:5])
        )
    wanted: list[Probe] = []
    for p in probes:
        if p.sha is None:
            continue
        rec = {f.name: f for f in p.target.recorded}.get(p.name)
        if rec is not None and rec.sha256 == p.sha and rec.last >= min(p.span[1], end):
            continue  # the lake holds this very file, all of it
        if p.role == "recheck" and rec is None:
            continue
        wanted.append(p)
    got = run_all(lambda p: archive.fetch(p.path, p.sha or ""), wanted, jobs)
    out.fetched = list(zip(wanted, got, strict=True))
    return out
