"""Sweep keys that cannot matter: the configuration keys a sweep point's run never reads, so two
points that differ only there are one configuration (collapsed, run once, counted once), and the
keys that only set the composite search's trial 0 (the config's own parameter set), whose points
share every other trial.

What a run reads depends on the mode (``backtest/walk.py``): the composite mode searches
``regime.grid`` in every fold and adds the config's own parameters (``regime.default_weights``,
``lower``, ``upper``, ``band``, ``min_dwell``) as trial 0 when those weights touch a score
feature; the hmm, kmeans and jump modes search no grid and read ``regime.n_states`` and
``regime.min_dwell`` (jump also ``regime.jump``). A sweep point computes the walk forward and
its KPIs only (``worker.py``): without ``write_reports`` nothing reads the robustness re-runs,
the dashboard's rolling betas or the effective number of trials, and no point reads
``signals``. ``test_sweep_inert.py`` checks each claim by running points that differ there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..config import Config

NOT_READ = "<not read>"
GRID = (
    "regime.grid.weight_values",
    "regime.grid.signs",
    "regime.grid.lower_thresholds",
    "regime.grid.upper_thresholds",
    "regime.grid.bands",
    "regime.grid.min_dwells",
    "regime.grid.max_sets",
    "regime.grid.seed",
)
TRIAL0 = ("regime.lower", "regime.upper", "regime.band", "regime.min_dwell")
JUMP = ("regime.jump.penalties", "regime.jump.n_init", "regime.jump.max_iter")
REPORTS_ONLY = (
    "report.robustness",
    "report.start_shifts",
    "report.cost_multipliers",
    "stats.rolling_beta_window",
    "stats.effective_n_max_trials",
)
VOL_TARGET = ("vol_target.target_ann_vol", "vol_target.lookback_days", "vol_target.max_leverage")


@dataclass(frozen=True)
class Unread:
    key: str
    why: str


def unread(cfg: Config, write_reports: bool) -> list[Unread]:
    """The dotted keys a sweep point with ``cfg`` never reads, each with the reason."""
    r = cfg.regime
    out: list[Unread] = []

    def add(keys: tuple[str, ...] | list[str], why: str) -> None:
        out.extend(Unread(k, why) for k in keys)

    if r.mode == "composite":
        add(["regime.n_states"], "only the hmm, kmeans and jump modes read it")
        add(JUMP, "only regime.mode jump reads it")
        if not default_weights_searched(cfg):
            add(
                TRIAL0,
                "the composite search adds the config's own parameters only when "
                "regime.default_weights weighs a score feature, and these weigh none",
            )
    else:
        why = f"regime.mode {r.mode} searches no composite grid"
        add([*GRID, *TRIAL0[:3], "regime.default_weights", "regime.objective"], why)
        if r.mode != "jump":
            add(JUMP, "only regime.mode jump reads it")
            add(["stats.pbo_blocks"], f"regime.mode {r.mode} has one trial: no PBO")
    if not cfg.vol_target.enabled:
        add(VOL_TARGET, "vol_target.enabled is false")
    if not cfg.costs.funding:
        add(["costs.missing_funding"], "costs.funding is false: no leg pays or earns funding")
    add(["signals.history_days"], "only `majors-alts signals` reads it; a sweep point is a run")
    if not write_reports:
        add(
            REPORTS_ONLY,
            "a sweep point computes the walk forward and its KPIs only (write_reports: false)",
        )
    return out


def default_weights_searched(cfg: Config) -> bool:
    """True when the composite search adds the config's own parameters as trial 0
    (``regime.search.build_grid``: the default weights touch a score feature)."""
    sf = set(cfg.regime.grid.score_features)
    return any(v != 0 for k, v in cfg.regime.default_weights.items() if k in sf)


def _set(d: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def effective(cfg: Config, write_reports: bool, trial0: bool = False) -> dict[str, Any]:
    """The resolved configuration with every key the run does not read replaced by
    ``NOT_READ``, and the mappings it reads in part reduced to what it reads (signs and default
    weights of the score features only). ``trial0``: also leave out what only sets the composite
    search's trial 0, so points that share every other trial compare equal."""
    d = {k: v for k, v in cfg.resolved().items() if k != "paths"}
    for u in unread(cfg, write_reports):
        _set(d, u.key, NOT_READ)
    if cfg.regime.mode == "composite":
        sf = set(cfg.regime.grid.score_features)
        grid = d["regime"]["grid"]
        grid["signs"] = {k: v for k, v in sorted(grid["signs"].items()) if k in sf}
        dw = {k: v for k, v in sorted(d["regime"]["default_weights"].items()) if k in sf and v}
        d["regime"]["default_weights"] = dw
        if trial0:
            for k in (*TRIAL0, "regime.default_weights"):
                _set(d, k, NOT_READ)
    return d


def effective_hash(cfg: Config, write_reports: bool, trial0: bool = False) -> str:
    blob = json.dumps(effective(cfg, write_reports, trial0), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def why_equal(a: Config, b: Config, write_reports: bool) -> str:
    """Why two configurations with one effective hash are one: the keys they differ in, each
    with the reason it is not read (or "equal after resolution")."""
    reasons = {u.key: u.why for u in unread(a, write_reports)}
    diffs = _differing(
        {k: v for k, v in a.resolved().items() if k != "paths"},
        {k: v for k, v in b.resolved().items() if k != "paths"},
    )
    if not diffs:
        return "the same configuration (equal after resolution)"
    parts = []
    for k in diffs:
        why = next((w for key, w in reasons.items() if k == key or k.startswith(key + ".")), None)
        if why is None and k.startswith(("regime.grid.signs", "regime.default_weights")):
            why = "only its entries for regime.grid.score_features are read"
        parts.append(f"{k} ({why or 'equal after resolution'})")
    return "differs only in keys the run does not read: " + "; ".join(parts)


def _differing(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            out += _differing(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        return out
    return [] if a == b else [path]


def trial0_keys(cfg: Config) -> tuple[str, ...]:
    """The keys that only set the composite search's trial 0 for ``cfg`` (empty when there is
    no such trial)."""
    if cfg.regime.mode == "composite" and default_weights_searched(cfg):
        return (*TRIAL0, "regime.default_weights")
    return ()
