"""The composite regime model: a weighted sum of z-scored features, two thresholds, a
hysteresis band and a minimum dwell, tuned by a fused grid search on the training window."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np

from ..config import GridConfig
from .hysteresis import BALANCED, _hyst
from .search import ParamGrid, SearchInputs, build_grid, evaluate_grid_costs, objective_from_stats


def composite_score(z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_f w_f z_f`` per day; a NaN z-score contributes nothing; NaN if no weighted feature
    has a value that day (burn-in)."""
    used = weights != 0
    zz = z[:, used]
    w = weights[used]
    fin = np.isfinite(zz)
    s = np.where(fin, zz, 0.0) @ w
    return np.where(fin.any(axis=1), s, np.nan)


def composite_contributions(z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each feature's part of :func:`composite_score`, ``w_f * z_f`` per day (days x features):
    0 where the z-score is NaN or the weight is 0, NaN on days whose score is NaN. A row sums
    to the score wherever the score is defined."""
    fin = np.isfinite(z)
    c = np.where(fin, z, 0.0) * weights[None, :]
    defined = (fin & (weights != 0)[None, :]).any(axis=1)
    return np.where(defined[:, None], c, np.nan)


_GRIDS: dict[str, ParamGrid] = {}
_GRIDS_MAX = 32


def cached_grid(
    features: tuple[str, ...], grid: GridConfig, default: dict[str, object] | None
) -> ParamGrid:
    """``build_grid``, built once per (features, grid config, default parameters): every fold
    of a run (and of its robustness re-runs) searches the same grid. The grid is shared:
    nothing may write to its arrays (they stay writeable only because numba compiles a
    separate kernel for read-only arrays)."""
    key = json.dumps([features, grid.model_dump(mode="json"), default], sort_keys=True, default=str)
    got = _GRIDS.get(key)
    if got is None:
        got = build_grid(features, grid, default)
        if len(_GRIDS) >= _GRIDS_MAX:
            _GRIDS.pop(next(iter(_GRIDS)))
        _GRIDS[key] = got
    return got


@dataclass
class CompositeRegime:
    """Estimator: ``fit`` searches the grid on decision days ``[d0, d1]``; fitted attributes
    end in ``_``. ``predict`` runs the chosen parameters from ``start`` to ``end``."""

    features: tuple[str, ...]
    grid: GridConfig
    objective: str = "sharpe"
    default: dict[str, object] | None = None
    n_blocks: int = 16
    grid_: ParamGrid | None = field(default=None, init=False)
    stats_: np.ndarray | None = field(default=None, init=False)
    blocks_: np.ndarray | None = field(default=None, init=False)
    objective_: np.ndarray | None = field(default=None, init=False)
    best_: int = field(default=-1, init=False)
    params_: dict[str, object] | None = field(default=None, init=False)

    def fit(self, z: np.ndarray, inputs: SearchInputs, d0: int, d1: int) -> CompositeRegime:
        return self.fit_costs(z, inputs, d0, d1, (inputs.cost,))[0]

    def fit_costs(
        self, z: np.ndarray, inputs: SearchInputs, d0: int, d1: int, costs: tuple[np.ndarray, ...]
    ) -> list[CompositeRegime]:
        """``fit`` once per cost table (``inputs.cost`` replaced by ``costs[k]``) in one kernel
        pass: this model fitted on ``costs[0]``, then fitted copies for the others."""
        if z.shape[1] != len(self.features):
            raise ValueError("z has a different number of columns than features")
        grid = cached_grid(self.features, self.grid, self.default)
        stats, blocks = evaluate_grid_costs(z, grid, inputs, d0, d1, self.n_blocks, costs)
        out = []
        for k in range(len(costs)):
            m = self if k == 0 else replace(self)
            m.grid_, m.stats_, m.blocks_ = grid, stats[k], blocks[k]
            m.objective_ = objective_from_stats(m.stats_, m.objective)
            m.best_ = int(np.argmax(m.objective_))
            m.params_ = grid.params(m.best_)
            out.append(m)
        return out

    @property
    def weights_(self) -> np.ndarray:
        assert self.grid_ is not None, "fit first"
        return self.grid_.weights[self.best_].copy()  # the grid is shared (cached_grid)

    @property
    def thresholds_(self) -> tuple[float, float]:
        assert self.grid_ is not None, "fit first"
        return float(self.grid_.lower[self.best_]), float(self.grid_.upper[self.best_])

    def predict(self, z: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Score and regime codes for days ``start..end`` (state machine starts BALANCED at
        ``start``, as in the search)."""
        assert self.grid_ is not None, "fit first"
        g, i = self.grid_, self.best_
        score = composite_score(z[start : end + 1], g.weights[i])
        codes = _hyst(
            score,
            float(g.lower[i]),
            float(g.upper[i]),
            float(g.band[i]),
            int(g.dwell[i]),
            BALANCED,
            10**9,
        )
        return score, codes
