"""What the importers read, line by line, and what they leave out (with where).

Input files are only ever opened for reading. A zip member is inflated in chunks up to a limit
(``--max-member-mb``; its declared size is not trusted), and a corrupt or encrypted member is an
error naming it. Each CSV's text is split into lines before any value is parsed:

- a UTF-8 byte-order mark at the start is removed (and said);
- a header is recognised by its first column's name (``open_time``, ``calc_time``,
  ``snapped_at``), never guessed from "not a number": a first candle behind a stray ``+`` or a
  NUL byte is a data line, parsed or rejected with its line number, never taken for a header;
- a line with another number of fields than the format's (cut by a truncated download, a
  ``quote_volume`` of ``3799`` instead of ``3799000000.5``) or holding a NUL byte is rejected;
- values are parsed without failing the file: one that is not a number is rejected with its
  file and line.

``Drops`` counts every row left out, per table and reason, with the first file and line; an
anomaly (a malformed line, a date outside 2009-01-03..today, a value beyond physical sense) is
also a warning, and more than ``limits.rejected_rows_error_share`` of a table's rows refuses the
import (exit 2) before anything is written.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ...errors import LimitError, MonitorError

MEMBER_MB_DEFAULT = 256
BOM = "\ufeff"


@dataclass(frozen=True)
class InputFile:
    """One CSV as read: its display name (``a.zip:member.csv`` for zip members), its stem, its
    text, and the sha256 of the file it came from (the zip's for a member; the importer
    manifest records it)."""

    name: str
    stem: str
    text: str
    sha256: str = ""


@dataclass
class Drops:
    """Rows an importer left out, by reason (``counts``), with the first example of each, the
    tables each reason concerns, and the rows read per table (for the shares)."""

    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    anomalies: set[str] = field(default_factory=set)
    seen: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        reason: str,
        n: int,
        example: str,
        tables: tuple[str, ...] = (),
        anomaly: bool = False,
    ) -> None:
        """``n`` rows (or files, when ``tables`` is empty) left out for ``reason``; an
        ``anomaly`` is broken data (a warning), not a routine drop (a live row, a gap)."""
        if n <= 0:
            return
        self.counts[reason] = self.counts.get(reason, 0) + n
        self.first.setdefault(reason, example)
        self.tables.setdefault(reason, tables)
        if anomaly:
            self.anomalies.add(reason)

    def read(self, tables: tuple[str, ...], n: int) -> None:
        for t in tables:
            self.seen[t] = self.seen.get(t, 0) + n

    def lines(self) -> list[str]:
        return [
            f"  dropped {n:>7,} {'row' if n == 1 else 'rows'}: {reason} (first: {self.first[reason]})"
            for reason, n in sorted(self.counts.items())
        ]

    def warnings(self) -> list[str]:
        return [
            f"{n:,} {'row' if n == 1 else 'rows'} rejected: {r} (first: {self.first[r]})"
            for r, n in sorted(self.counts.items())
            if r in self.anomalies
        ]

    def manifest(self) -> dict[str, object]:
        """The import's rejected rows, per table and reason (for the lake's record)."""
        out: dict[str, dict[str, object]] = {}
        files = {}
        for r, n in sorted(self.counts.items()):
            entry = {"rows": n, "first": self.first[r], "anomaly": r in self.anomalies}
            if not self.tables[r]:
                files[r] = {"files": n, "first": self.first[r]}
            for t in self.tables[r]:
                out.setdefault(t, {"rows_read": self.seen.get(t, 0), "rejected": {}})
                out[t]["rejected"][r] = entry  # type: ignore[index]
        return {"tables": out, "files_skipped": files}

    def refusal(self, error_share: float) -> str | None:
        """Why the import is refused (broken rows above ``error_share`` of a table), or None."""
        for t in sorted(self.seen):
            bad = sum(
                n for r, n in self.counts.items() if r in self.anomalies and t in self.tables[r]
            )
            if self.seen[t] and bad / self.seen[t] > error_share:
                first = next(
                    f"{r} (first: {self.first[r]})"
                    for r in sorted(self.counts)
                    if r in self.anomalies and t in self.tables[r]
                )
                return (
                    f"{t}: {bad:,} of {self.seen[t]:,} rows ({bad / self.seen[t]:.1%}) are broken "
                    f"(more than limits.rejected_rows_error_share = {error_share:.1%}), e.g. "
                    f"{first}; nothing was written. What to do: re-download or fix those inputs "
                    "(or raise limits.rejected_rows_error_share in the --config file if dropping "
                    "them is right)"
                )
        return None


def iter_inputs(
    paths: Iterable[Path], patterns: tuple[str, ...] = ("*.csv", "*.zip")
) -> Iterator[Path]:
    """Input files: each path itself if a file, else the matching files under it, sorted."""
    for p in paths:
        p = Path(p)
        try:
            if p.is_file():
                yield p
            elif p.is_dir():
                yield from sorted({f for pat in patterns for f in p.rglob(pat) if f.is_file()})
            else:
                raise MonitorError(f"input {p} does not exist")
        except OSError as err:
            raise MonitorError(
                f"input {p} cannot be listed ({err.strerror or err}). What to do: check its "
                "permissions"
            ) from None


def _member_text(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, where: str) -> str:
    if info.file_size > limit:
        raise LimitError(
            f"input {where} inflates to {info.file_size / 2**20:,.0f} MB, more than "
            f"--max-member-mb {limit // 2**20:,}. What to do: check the file (a zip bomb?), or "
            "raise --max-member-mb if it is a real export"
        )
    out = bytearray()
    with zf.open(info) as fh:
        while chunk := fh.read(1 << 20):
            out += chunk
            if len(out) > limit:  # the declared size lied
                raise LimitError(
                    f"input {where} inflates beyond --max-member-mb {limit // 2**20:,} (its "
                    "header says less). What to do: check the file (a zip bomb?)"
                )
    return out.decode()


def read_inputs(path: Path, max_member_mb: int = MEMBER_MB_DEFAULT) -> list[InputFile]:
    """A CSV's text, or the text of every CSV member of a zip (read with the stdlib)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MonitorError(
            f"input {path} cannot be read ({type(err).__name__}: {err}). What to do: "
            "re-download it or leave it out"
        ) from None
    return read_bytes(path.name, data, max_member_mb, where=str(path))


def read_bytes(
    name: str, data: bytes, max_member_mb: int = MEMBER_MB_DEFAULT, where: str | None = None
) -> list[InputFile]:
    """The CSVs of one input file from its bytes (``name``: its file name; ``where``: how the
    messages name it, default ``name``): the text of a CSV, or of every CSV member of a zip,
    each member inflated up to ``max_member_mb``. A file that cannot be read is a
    ``MonitorError`` naming it."""
    limit = max_member_mb * 2**20
    sha = hashlib.sha256(data).hexdigest()
    where = where or name
    at = where
    try:
        if name.lower().endswith(".zip"):
            out = []
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for info in sorted(zf.infolist(), key=lambda i: i.filename):
                    if info.filename.lower().endswith(".csv"):
                        at = f"{where}:{info.filename}"
                        text = _member_text(zf, info, limit, at)
                        member = f"{name}:{info.filename}"
                        out.append(InputFile(member, Path(info.filename).stem, text, sha))
            return out
        return [InputFile(name, Path(name).stem, data.decode("utf-8"), sha)]
    except (
        OSError,
        UnicodeDecodeError,
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        NotImplementedError,  # zipfile: a member compressed by a method it cannot read
        RuntimeError,  # an encrypted member ("File ... is encrypted, password required")
    ) as err:
        raise MonitorError(
            f"input {at} cannot be read ({type(err).__name__}: {err}). What to do: "
            "re-download it or leave it out"
        ) from None


@dataclass(frozen=True)
class Lines:
    """A file's data lines (header and blank lines left out) and their line numbers."""

    rows: list[str]
    numbers: list[int]


def split_lines(f: InputFile, columns: list[str], drops: Drops, tables: tuple[str, ...]) -> Lines:
    """The data lines of ``f`` (module docstring): BOM removed, header recognised by name,
    lines with another number of fields or a NUL byte rejected into ``drops``."""
    text = f.text
    if text.startswith(BOM):
        text = text[1:]
        drops.notes.append(f"{f.name} starts with a UTF-8 byte-order mark: removed")
    rows: list[str] = []
    numbers: list[int] = []
    bad: dict[str, list[int]] = {}
    first_seen = False
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if not first_seen:
            first_seen = True
            head = line.split(",", 1)[0].strip().strip('"').lower()
            if head == columns[0]:
                continue  # the header
        if "\x00" in line:
            bad.setdefault("line holds a NUL byte", []).append(i)
            continue
        n = line.count(",") + 1
        if n != len(columns):
            reason = f"malformed or truncated line ({n} fields, {len(columns)} expected)"
            bad.setdefault(reason, []).append(i)
            continue
        rows.append(line)
        numbers.append(i)
    drops.read(tables, len(rows) + sum(len(v) for v in bad.values()))
    for reason, lines in bad.items():
        drops.add(reason, len(lines), f"{f.name} line {lines[0]}", tables, anomaly=True)
    return Lines(rows, numbers)


def typed_frame(
    lines: Lines, columns: list[str], types: dict[str, pl.DataType], source: str
) -> pl.DataFrame:
    """The lines as a frame with ``columns`` typed by ``types`` (a value that does not parse is
    null; the caller rejects the row naming its line) and a ``line`` column."""
    if not lines.rows:
        schema: dict[str, pl.DataType] = {c: types.get(c, pl.String()) for c in columns}
        return pl.DataFrame(schema={**schema, "line": pl.Int64()})
    try:
        raw = pl.read_csv(
            io.StringIO("\n".join(lines.rows) + "\n"),
            has_header=False,
            new_columns=columns,
            infer_schema_length=0,
            truncate_ragged_lines=False,
            quote_char='"',
        )
    except pl.exceptions.PolarsError as err:
        raise MonitorError(
            f"input {source} is not in the expected format ({type(err).__name__}: "
            f"{str(err).splitlines()[0]}); expected columns {', '.join(columns)}"
        ) from None
    cols = []
    for c in columns:
        t = types.get(c)
        v = pl.col(c).str.strip_chars()
        cols.append(v.cast(t, strict=False).alias(c) if t is not None else v.alias(c))
    return raw.select(cols).with_columns(pl.Series("line", lines.numbers, dtype=pl.Int64))
