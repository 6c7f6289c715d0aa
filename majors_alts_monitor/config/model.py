"""The whole configuration (``Config``): its sections, the cross-section checks, the burn-in it
implies, its resolved form and its hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import model_validator

from .sections import (
    FEATURE_NAMES,
    BookConfig,
    CostsConfig,
    DataConfig,
    FeaturesConfig,
    LimitsConfig,
    NotifyConfig,
    PathsConfig,
    RegimeConfig,
    ReportConfig,
    SignalsConfig,
    StatsConfig,
    UniverseConfig,
    VolTargetConfig,
    WalkForwardConfig,
    _Strict,
)


class Config(_Strict):
    paths: PathsConfig = PathsConfig()
    data: DataConfig = DataConfig()
    universe: UniverseConfig = UniverseConfig()
    book: BookConfig = BookConfig()
    costs: CostsConfig = CostsConfig()
    vol_target: VolTargetConfig = VolTargetConfig()
    features: FeaturesConfig = FeaturesConfig()
    regime: RegimeConfig = RegimeConfig()
    walkforward: WalkForwardConfig = WalkForwardConfig()
    stats: StatsConfig = StatsConfig()
    signals: SignalsConfig = SignalsConfig()
    report: ReportConfig = ReportConfig()
    limits: LimitsConfig = LimitsConfig()
    notify: NotifyConfig = NotifyConfig()

    @model_validator(mode="after")
    def _limits(self) -> Config:
        if self.stats.n_boot > self.limits.n_boot_max:
            raise ValueError(
                f"stats.n_boot = {self.stats.n_boot:,} is above limits.n_boot_max = "
                f"{self.limits.n_boot_max:,}. What to do: lower stats.n_boot (the default 2,000 "
                "is plenty for a 95% interval), or raise limits.n_boot_max if you mean it"
            )
        return self

    @model_validator(mode="after")
    def _feature_names(self) -> Config:
        known = set(FEATURE_NAMES)
        where = {
            "features.enabled": list(self.features.enabled or []),
            "regime.grid.score_features": list(self.regime.grid.score_features),
            "regime.grid.signs": list(self.regime.grid.signs),
            "regime.default_weights": list(self.regime.default_weights),
        }
        for key, names in where.items():
            bad = [n for n in names if n not in known]
            if bad:
                raise ValueError(
                    f"{key} names unknown features {bad}; registered features: {sorted(known)}"
                )
        if self.features.enabled is not None:
            off = [n for n in self.regime.grid.score_features if n not in self.features.enabled]
            if off:
                raise ValueError(f"regime.grid.score_features {off} are not in features.enabled")
        return self

    def burn_in_days(self) -> int:
        """Days of history before features, betas and z-scores are all defined."""
        if self.walkforward.burn_in_days is not None:
            return self.walkforward.burn_in_days
        return max(self.book.beta_window, self.features.zscore_min_periods + 20)

    def with_overrides(
        self,
        *,
        lake: Path | None = None,
        duckdb: Path | None = None,
        output_root: Path | None = None,
    ) -> Config:
        paths = self.paths.model_copy(
            update={
                k: v
                for k, v in {
                    "data_lake": lake,
                    "duckdb": duckdb,
                    "output_root": output_root,
                }.items()
                if v is not None
            }
        )
        return self.model_copy(update={"paths": paths})

    def resolved(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())

    def hash(self) -> str:
        """sha256 of the resolved configuration without ``paths`` (where the data and outputs
        live does not change the model), ``limits`` (they refuse or warn, never change a
        number) and ``notify`` (where alerts go), canonical JSON, first 16 hex digits."""
        blob = json.dumps(
            {k: v for k, v in self.resolved().items() if k not in ("paths", "limits", "notify")},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
