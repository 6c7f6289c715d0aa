"""Downloads for ``update``: HTTP with timeouts and bounded retries, the archive's checksums, a
cache outside the lake, and the archive's listings. The only module of the package that opens
a network connection (the standard library's ``urllib``; no new dependency).

A file is used only after its sha256 equals the archive's ``.CHECKSUM`` and its zip opens; it
is then kept in the cache (``<cache>/<archive path>``, written to a temporary name and renamed),
and a later run that finds the cached file with the sha256 the archive announces uses it
without downloading it again: an interrupted update resumes. The cache can be deleted at any
time (it is re-filled).

Failures name the file and its URL and raise ``FetchError`` (exit code 75, ``EX_TEMPFAIL``:
"try again later"), before anything is written to the lake.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ... import __version__
from ...errors import MonitorError
from .archive import parse_checksum

T = TypeVar("T")
R = TypeVar("R")
RETRY_STATUS = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 60.0


class FetchError(MonitorError):
    """A source that could not be read (network, timeout, missing or damaged file): the lake is
    left as it was and a later run resumes. Exit code 75 (``EX_TEMPFAIL``)."""

    exit_code = 75


class NotFound(Exception):
    """HTTP 404 (internal: the caller decides whether it is pending, a hole or an error)."""


@dataclass
class Http:
    """GET with a timeout per connection and read, and ``retries`` more attempts (backoff
    ``backoff * 2**k`` seconds, or the server's ``Retry-After`` up to a minute) on network
    errors, timeouts, HTTP 429 and 5xx. 404 raises ``NotFound``; other statuses fail at once."""

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    headers: dict[str, str] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep

    def get(self, url: str, what: str) -> bytes:
        last = ""
        for attempt in range(self.retries + 1):
            wait = self.backoff * 2**attempt
            try:
                req = urllib.request.Request(
                    url, headers={"User-Agent": f"majors-alts/{__version__}", **self.headers}
                )
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return resp.read()
            except urllib.error.HTTPError as err:
                if err.code == 404:
                    raise NotFound(url) from None
                last = f"HTTP {err.code} {err.reason}"
                body = _peek(err)
                if body:
                    last += f": {body}"
                if err.code not in RETRY_STATUS:
                    raise FetchError(f"{what}: {last} ({url})") from None
                after = err.headers.get("Retry-After") if err.headers else None
                if after is not None and after.strip().isdigit():
                    wait = min(float(after), MAX_RETRY_AFTER_S)
            except TimeoutError:
                last = f"no answer within {self.timeout:g} s (timeout)"
            except urllib.error.URLError as err:
                reason = err.reason
                if isinstance(reason, TimeoutError):
                    last = f"no answer within {self.timeout:g} s (timeout)"
                else:
                    last = f"network error: {reason}"
            except (http.client.HTTPException, ConnectionError, OSError) as err:
                last = f"network error: {type(err).__name__}: {err}"
            if attempt < self.retries:
                self.sleep(wait)
        tries = f"{self.retries + 1} attempts" if self.retries else "1 attempt"
        raise FetchError(f"{what}: {last} ({url}; {tries})")


def _peek(err: urllib.error.HTTPError) -> str:
    try:
        text = err.read(300).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - only for the message
        return ""
    return " ".join(text.split())[:200]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_cache(path: Path, data: bytes) -> None:
    """``data`` to ``path`` (outside any lake) under a temporary name, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass
class Fetched:
    """A verified archive file: its path, bytes, sha256, and whether the cache served it."""

    path: str
    data: bytes
    sha256: str
    cached: bool


class Archive:
    """The archive under ``base_url`` (any mirror in its layout), cached in ``cache``."""

    def __init__(
        self, base_url: str, cache: Path, http: Http, listing_url: str | None = None
    ) -> None:
        self.base = base_url if base_url.endswith("/") else base_url + "/"
        self.cache = Path(cache)
        self.http = http
        self.listing_url = listing_url or self.base
        self._s3_ok: bool | None = None

    def url(self, path: str) -> str:
        return self.base + urllib.parse.quote(path)

    def checksum(self, path: str) -> str | None:
        """The sha256 the archive announces for ``path``; None when there is no such file (its
        ``.CHECKSUM`` is 404: not published, or never)."""
        name = path.rsplit("/", 1)[-1]
        try:
            text = self.http.get(self.url(path + ".CHECKSUM"), f"{name}.CHECKSUM")
        except NotFound:
            return None
        sha = parse_checksum(text.decode("utf-8", "replace"), name)
        if sha is None:
            raise FetchError(
                f"{name}.CHECKSUM is not a sha256 checksum file ({self.url(path)}.CHECKSUM): "
                f"{text[:80]!r}"
            )
        return sha

    def fetch(self, path: str, sha: str) -> Fetched:
        """The file at ``path``, verified against ``sha`` (the cache's copy when it matches);
        a mismatch is fetched once more (with a fresh checksum: the file may have been
        re-published meanwhile) before it is an error."""
        name = path.rsplit("/", 1)[-1]
        cached = self.cache / path
        if cached.is_file():
            data = cached.read_bytes()
            if sha256(data) == sha and _zip_ok(data):
                return Fetched(path, data, sha, True)
        for attempt in (0, 1):
            try:
                data = self.http.get(self.url(path), name)
            except NotFound:
                raise FetchError(
                    f"{name}: the archive announces it (its .CHECKSUM is there) but the file is "
                    f"missing (HTTP 404, {self.url(path)})"
                ) from None
            got = sha256(data)
            if got == sha:
                break
            if attempt == 0:
                sha = self.checksum(path) or sha
                continue
            raise FetchError(
                f"{name}: checksum mismatch, the .CHECKSUM says {sha[:12]}... and the "
                f"{len(data):,} bytes received hash to {got[:12]}... ({self.url(path)}; fetched "
                "twice)"
            )
        if not _zip_ok(data):
            raise FetchError(
                f"{name}: not a readable zip although its checksum matches ({self.url(path)}): "
                "the archive holds a damaged file"
            )
        write_cache(cached, data)
        return Fetched(path, data, sha, False)

    # ---- listings ------------------------------------------------------------------------
    def list_folders(self, prefix: str) -> list[str]:
        """Sub-folder names under ``prefix`` (the symbols of a dataset): the S3 listing of the
        bucket, else a static mirror's HTML index of the folder; [] when there is none."""
        got = self._s3(prefix)
        return sorted(set(got if got is not None else self._html(prefix)))

    def list_files(self, prefix: str) -> list[str] | None:
        """Names of the files in ``prefix``'s folder that start with its last part (``a/b/``
        lists ``a/b/``; ``a/b/SYM-1d-2024-03`` the March files there), from the S3 listing or
        a static mirror's HTML index; None when neither answers (the caller then probes file
        by file)."""
        folder, part = prefix.rsplit("/", 1)
        folder += "/"
        got = self._s3(prefix, files=True)
        if got is not None:
            return sorted(n[len(folder) :] for n in got if n.startswith(folder + part))
        try:
            body = self.http.get(self.base + folder, f"the index of {folder}")
        except NotFound:
            return []
        text = body.decode("utf-8", "replace")
        if "<a " not in text.lower():
            return None
        names = [urllib.parse.unquote(h) for h in re.findall(r'href="([^"?#:/]+)"', text)]
        return sorted(n for n in names if n.startswith(part) and not n.startswith(".."))

    def _s3(self, prefix: str, files: bool = False) -> list[str] | None:
        """The bucket listing under ``prefix``: full keys (``files``) or sub-folder names; None
        when the listing URL does not answer like S3 (remembered: not asked again)."""
        if self._s3_ok is False:
            return None
        names: list[str] = []
        token: str | None = None
        base = self.listing_url.rstrip("/")
        while True:
            q = {"list-type": "2", "delimiter": "/", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            url = f"{base}/?{urllib.parse.urlencode(q)}"
            try:
                body = self.http.get(url, f"the archive's listing of {prefix}")
            except NotFound:
                self._s3_ok = False
                return None
            try:
                root = ET.fromstring(body)
            except ET.ParseError:
                self._s3_ok = False
                return None
            if not root.tag.endswith("ListBucketResult"):
                self._s3_ok = False
                return None
            self._s3_ok = True
            for el in root.iter() if files else ():
                if el.tag.endswith("Contents"):
                    for k in el:
                        if k.tag.endswith("Key") and (k.text or "").startswith(prefix):
                            names.append(k.text or "")
            for cp in root.iter() if not files else ():
                if not cp.tag.endswith("CommonPrefixes"):
                    continue
                for el in cp:
                    t = el.text or ""
                    if el.tag.endswith("Prefix") and t.startswith(prefix) and t != prefix:
                        names.append(t[len(prefix) :].strip("/"))
            truncated = _text(root, "IsTruncated") == "true"
            token = _text(root, "NextContinuationToken")
            if not truncated or not token:
                return names

    def _html(self, prefix: str) -> list[str]:
        try:
            body = self.http.get(self.base + prefix, f"the index of {prefix}")
        except NotFound:
            return []
        text = body.decode("utf-8", "replace")
        return [
            urllib.parse.unquote(h).strip("/")
            for h in re.findall(r'href="([^"?#:]+)/"', text)
            if not h.startswith(("/", ".."))
        ]


def _zip_ok(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return False


def _text(root: ET.Element, tag: str) -> str | None:
    for el in root.iter():
        if el.tag.endswith(tag):
            return el.text
    return None


def run_all(fn: Callable[[T], R], items: Sequence[T], jobs: int) -> list[R]:
    """``fn`` over ``items`` on ``jobs`` threads, results in order. Every item runs; then the
    first failure (in ``items`` order) is raised, naming how many failed."""
    if not items:
        return []
    results: list[R | None] = [None] * len(items)
    errors: list[tuple[int, BaseException]] = []

    def one(i: int) -> None:
        try:
            results[i] = fn(items[i])
        except BaseException as err:  # noqa: BLE001 - re-raised below, in order
            errors.append((i, err))

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, range(len(items))))
    if errors:
        errors.sort(key=lambda e: e[0])
        first = errors[0][1]
        if isinstance(first, FetchError) and len(errors) > 1:
            raise FetchError(f"{first} (and {len(errors) - 1} more failures)") from None
        raise first
    return results  # type: ignore[return-value]
