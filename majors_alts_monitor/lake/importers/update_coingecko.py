"""``majors-alts update coingecko``: top up a lake's market caps (and, on request, prices and
volumes) from CoinGecko's ``/coins/{id}/market_chart/range`` (``interval=daily``).

Coin ids come from ``--ids ASSET=id,...``, a ``--ids-file`` (CSV ``asset_id,coin_id``), or the
importer manifest (an earlier update's). Only the days after the lake's last day for each asset
are asked for. A point stamped 00:00 UTC of ``d+1`` is day ``d``'s close (as the CSV importer
reads exports); the last completed day is served from about 00:35 UTC, so a point not there yet
is pending. The API key comes from the environment: ``COINGECKO_PRO_API_KEY`` (the Pro API,
full history) or ``COINGECKO_API_KEY`` (the free Demo plan); without either the keyless public
API is used. The free plans serve the past 365 days only: a gap reaching further back is
fetched from 365 days ago, and the command says which days it could not get.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from ...errors import MonitorError
from . import manifest as mf
from .coingecko import parse_market_chart
from .common import Drops
from .fetch import FetchError, Http, NotFound

PUBLIC_API = "https://api.coingecko.com/api/v3"
PRO_API = "https://pro-api.coingecko.com/api/v3"
PRO_KEY_ENV = "COINGECKO_PRO_API_KEY"
DEMO_KEY_ENV = "COINGECKO_API_KEY"
FREE_WINDOW_DAYS = 365


@dataclass(frozen=True)
class Plan:
    """How to reach the API: base URL, key header, the free window, the pause between calls."""

    base: str
    headers: dict[str, str]
    tier: str  # "pro" | "demo" | "keyless"
    min_interval: float

    @property
    def window_days(self) -> int | None:
        return None if self.tier == "pro" else FREE_WINDOW_DAYS


def plan_from_env(env: dict[str, str], base: str | None, min_interval: float | None) -> Plan:
    pro, demo = env.get(PRO_KEY_ENV, "").strip(), env.get(DEMO_KEY_ENV, "").strip()
    if pro:
        return Plan(base or PRO_API, {"x-cg-pro-api-key": pro}, "pro", _pause(min_interval, 0.2))
    if demo:
        return Plan(
            base or PUBLIC_API, {"x-cg-demo-api-key": demo}, "demo", _pause(min_interval, 2.1)
        )
    return Plan(base or PUBLIC_API, {}, "keyless", _pause(min_interval, 12.0))


def _pause(given: float | None, default: float) -> float:
    return default if given is None else given


def parse_ids(spec: str | None, file: Path | None) -> dict[str, str]:
    """``BTC=bitcoin,ETH=ethereum`` and/or a CSV ``asset_id,coin_id`` -> asset -> coin id."""
    out: dict[str, str] = {}
    if file is not None:
        try:
            df = pl.read_csv(file, infer_schema_length=0)
        except (OSError, pl.exceptions.PolarsError) as err:
            raise MonitorError(f"--ids-file {file} cannot be read ({err})") from None
        if not {"asset_id", "coin_id"} <= set(df.columns):
            raise MonitorError(
                f"--ids-file {file} must have the columns asset_id and coin_id (has "
                f"{', '.join(df.columns)})"
            )
        out |= {a.strip().upper(): c.strip() for a, c in df.select("asset_id", "coin_id").rows()}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise MonitorError(
                f"--ids entry {part.strip()!r} is not ASSET=coin_id (e.g. BTC=bitcoin): a "
                "CoinGecko id does not say which asset of the lake it is"
            )
        a, c = part.split("=", 1)
        out[a.strip().upper()] = c.strip()
    return out


@dataclass
class CoinGeckoOutcome:
    tables: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    records: list[mf.SourceRecord] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stopped: dict[date, list[str]] = field(default_factory=dict)  # first day without a point


def _ts(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def fetch_caps(
    http: Http,
    plan: Plan,
    wanted: dict[str, tuple[str, date]],
    end: date,
    today: date,
    tables: tuple[str, ...],
    drops: Drops,
    sleep=time.sleep,
) -> CoinGeckoOutcome:
    """Ask the API for each asset's days ``first .. end`` (``wanted``: asset -> (coin id,
    first)); the free window is applied and said."""
    out = CoinGeckoOutcome()
    earliest = today - timedelta(days=plan.window_days - 1) if plan.window_days else None
    clipped: list[str] = []
    first_call = True
    for asset, (coin, first) in sorted(wanted.items()):
        if first > end:
            continue
        a = first
        if earliest is not None and a < earliest:
            clipped.append(f"{asset} {a}..{earliest - timedelta(days=1)}")
            a = earliest
            if a > end:
                continue
        if not first_call and plan.min_interval > 0:
            sleep(plan.min_interval)
        first_call = False
        q = {
            "vs_currency": "usd",
            "from": str(_ts(a + timedelta(days=1)) - 3600),
            "to": str(_ts(end + timedelta(days=1)) + 3600),
            "interval": "daily",
        }
        url = f"{plan.base.rstrip('/')}/coins/{urllib.parse.quote(coin)}/market_chart/range?{urllib.parse.urlencode(q)}"
        what = f"CoinGecko market_chart/range of {coin} ({asset})"
        try:
            body = http.get(url, what)
        except NotFound:
            raise FetchError(
                f"{what}: HTTP 404, CoinGecko has no coin id {coin!r}. What to do: correct "
                "--ids / --ids-file (the API id is on the coin's page)"
            ) from None
        except FetchError as err:
            if "10012" in str(err) or "exceeds the allowed time range" in str(err):
                raise FetchError(
                    f"{err}. CoinGecko's free plans serve the past {FREE_WINDOW_DAYS} days "
                    f"only; this asked from {a}. What to do: set {PRO_KEY_ENV}, or import a "
                    "CSV export for the older days"
                ) from None
            raise
        try:
            payload = json.loads(body)
        except ValueError:
            raise FetchError(f"{what}: the answer is not JSON ({body[:80]!r})") from None
        if isinstance(payload, dict) and ("error" in payload or "status" in payload):
            raise FetchError(f"{what}: CoinGecko answered {json.dumps(payload)[:300]}")
        try:
            got = parse_market_chart(payload, asset, drops, f"{coin} ({asset})")
        except ValueError as err:
            raise FetchError(f"{what}: {err}") from None
        last_seen = None
        for t in tables:
            df = got[t].filter(pl.col("date").is_between(a, end))
            out.tables.setdefault(t, []).append(df)
            if df.height:
                d = df["date"].max()
                last_seen = d if last_seen is None else max(last_seen, d)  # type: ignore[type-var]
        if last_seen is None or last_seen < end:
            after = a if last_seen is None else last_seen + timedelta(days=1)  # type: ignore[operator]
            if after >= today - timedelta(days=3):
                out.pending.append(f"{asset} {after}..{end}")
            else:
                out.stopped.setdefault(after, []).append(asset)
        spans = [df for t in tables for df in [got[t].filter(pl.col("date").is_between(a, end))]]
        dates = pl.concat([df.select("date") for df in spans]) if spans else pl.DataFrame()
        out.records.append(
            mf.SourceRecord(
                mf.COINGECKO,
                asset,
                asset,
                dates["date"].min() if dates.height else None,  # type: ignore[arg-type]
                dates["date"].max() if dates.height else None,  # type: ignore[arg-type]
                (),
                {"coin_id": coin},
            )
        )
    for d, assets in sorted(out.stopped.items()):
        out.notes.append(
            f"no daily point since {d} for {len(assets)} coins ({', '.join(sorted(assets)[:6])}"
            f"{', ...' if len(assets) > 6 else ''}): stopped trading, or a wrong coin id?"
        )
    if clipped:
        out.notes.append(
            f"CoinGecko's {plan.tier} plan serves the past {FREE_WINDOW_DAYS} days only: not "
            f"fetched {', '.join(clipped[:5])}{' and more' if len(clipped) > 5 else ''} "
            f"(set {PRO_KEY_ENV} for the full history, or import a CSV export)"
        )
    return out
