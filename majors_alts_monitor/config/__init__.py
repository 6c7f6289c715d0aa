"""Typed, validated configuration: the one home of defaults.

``config.yaml`` in this package mirrors these defaults. Unknown keys and wrong types are errors
that name the key and the file. Paths in the file are resolved relative to the current working
directory (the directory the command runs from), as a user types them.
"""

from __future__ import annotations

from .loading import (
    apply_overrides,
    get_dotted,
    load_config,
    parse_config,
    read_yaml,
    set_dotted,
)
from .model import Config
from .sections import (
    DAYS_MAX,
    DEFAULT_CONFIG_PATH,
    EXPOSURE_MAX,
    FEATURE_NAMES,
    REGIMES,
    BookConfig,
    CostsConfig,
    DataConfig,
    FeaturesConfig,
    GridConfig,
    JumpConfig,
    LimitsConfig,
    NotifyConfig,
    PathsConfig,
    Regime,
    RegimeConfig,
    ReportConfig,
    SignalsConfig,
    StatsConfig,
    UniverseConfig,
    VolTargetConfig,
    WalkForwardConfig,
)

__all__ = [
    "DAYS_MAX",
    "DEFAULT_CONFIG_PATH",
    "EXPOSURE_MAX",
    "FEATURE_NAMES",
    "REGIMES",
    "BookConfig",
    "Config",
    "CostsConfig",
    "DataConfig",
    "FeaturesConfig",
    "GridConfig",
    "JumpConfig",
    "LimitsConfig",
    "NotifyConfig",
    "PathsConfig",
    "Regime",
    "RegimeConfig",
    "ReportConfig",
    "SignalsConfig",
    "StatsConfig",
    "UniverseConfig",
    "VolTargetConfig",
    "WalkForwardConfig",
    "apply_overrides",
    "get_dotted",
    "load_config",
    "parse_config",
    "read_yaml",
    "set_dotted",
]
