"""Tests of the typed configuration (``config/``): the one home of defaults.

The packaged ``config.yaml`` mirrors ``Config()`` key for key and value for value; every
refusal (missing file, bad YAML, non-mapping, unknown key, wrong type, cross-field rule,
unknown feature name, unknown choice) is a ``ConfigError`` whose message names the dotted key
and the file; ``with_overrides``, ``hash`` and ``resolved`` behave as documented; and the CLI
maps a bad file to exit code 2 with the key on stderr.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from majors_alts_monitor import cli
from majors_alts_monitor.config import (
    DEFAULT_CONFIG_PATH,
    REGIMES,
    Config,
    load_config,
    parse_config,
)
from majors_alts_monitor.errors import ConfigError
from majors_alts_monitor.market.features import REGISTRY

REGISTERED = sorted(REGISTRY)


def write_yaml(tmp_path: Path, raw: Any, name: str = "config.yaml") -> Path:
    p = tmp_path / name
    p.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False))
    return p


def refused(tmp_path: Path, raw: Any) -> str:
    """Load ``raw`` written as YAML; it must be refused naming the file. Returns the message."""
    p = write_yaml(tmp_path, raw)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert str(p) in msg, msg
    return msg


# ---- the packaged file mirrors the defaults ----------------------------------------------------
@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("universe:\n  basket_size:\t20\n", "not valid YAML"),  # a tab YAML forbids
        ("universe: [unclosed\n", "not valid YAML"),
        ("data:\n  start: 2024-02-30\n", "cannot be read: day is out of range"),
        ("report: !!python/tuple [1, 2]\n", "not valid YAML"),  # the safe loader only
    ],
)
def test_unreadable_yaml_is_a_config_error_naming_the_file(tmp_path: Path, text: str, says: str):
    p = write_yaml(tmp_path, text, "bad.yaml")
    with pytest.raises(ConfigError, match=says) as err:
        load_config(p)
    assert str(p) in str(err.value)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("universe:\n  aliases: {CAF\u00c9: CAFE}\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text .* What to do"):
        load_config(latin)


def test_packaged_yaml_equals_the_defaults() -> None:
    assert DEFAULT_CONFIG_PATH.is_file()
    assert load_config() == Config()
    assert load_config(DEFAULT_CONFIG_PATH) == Config()
    # value for value, and every key spelled out: dict equality means the same keys at every
    # level, so nothing in the file is left to an implicit default
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    assert raw == Config().resolved()


def test_empty_file_and_partial_file_take_the_defaults(tmp_path: Path) -> None:
    assert load_config(write_yaml(tmp_path, "", "empty.yaml")) == Config()
    assert load_config(write_yaml(tmp_path, "# only a comment\n", "comment.yaml")) == Config()
    cfg = load_config(write_yaml(tmp_path, {"universe": {"basket_size": 7}}))
    assert cfg.universe.basket_size == 7
    assert cfg.universe.model_copy(update={"basket_size": 20}) == Config().universe
    assert cfg.model_copy(update={"universe": Config().universe}) == Config()


def test_parse_config_accepts_none_as_defaults() -> None:
    assert parse_config(None) == Config()
    assert parse_config({}) == Config()


# ---- the file itself ---------------------------------------------------------------------------
def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "config.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    msg = str(info.value)
    assert str(missing) in msg and "not found" in msg
    assert "What to do:" in msg and str(DEFAULT_CONFIG_PATH) in msg
    assert not missing.parent.exists()


def test_a_folder_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        "universe: [unclosed\n",
        "universe:\n  basket_size: 3\n bad_indent: 1\n",
        "regime: {mode: composite\n",
        "\tuniverse: 1\n",
    ],
)
def test_invalid_yaml(tmp_path: Path, text: str) -> None:
    msg = refused(tmp_path, text)
    assert "not valid YAML" in msg


@pytest.mark.parametrize("text", ["- universe\n- book\n", "just a string\n", "42\n", "[1, 2]\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    msg = refused(tmp_path, text)
    assert "top level must be a mapping" in msg


def test_a_section_must_be_a_mapping(tmp_path: Path) -> None:
    msg = refused(tmp_path, {"universe": 5})
    assert "key 'universe'" in msg and "(got 5)" in msg


# ---- unknown keys ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "dotted"),
    [
        ({"univers": {"basket_size": 3}}, "univers"),
        ({"universe": {"basket_sise": 3}}, "universe.basket_sise"),
        ({"book": {"beta_windw": 60}}, "book.beta_windw"),
        ({"regime": {"grid": {"max_set": 10}}}, "regime.grid.max_set"),
        ({"paths": {"lake": "x"}}, "paths.lake"),
    ],
)
def test_unknown_keys_name_the_dotted_key_and_the_file(
    tmp_path: Path, raw: dict[str, Any], dotted: str
) -> None:
    msg = refused(tmp_path, raw)
    assert f"unknown key '{dotted}'" in msg
    assert "invalid configuration in" in msg


def test_every_unknown_key_is_listed(tmp_path: Path) -> None:
    msg = refused(tmp_path, {"universe": {"basket_sise": 3, "rank": "volume"}, "extra": 1})
    for dotted in ("universe.basket_sise", "universe.rank", "extra"):
        assert f"unknown key '{dotted}'" in msg


# ---- wrong types -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "dotted", "shown"),
    [
        ({"universe": {"basket_size": "many"}}, "universe.basket_size", "'many'"),
        ({"universe": {"min_marketcap": "big"}}, "universe.min_marketcap", "'big'"),
        ({"book": {"beta_window": 12.5}}, "book.beta_window", "12.5"),
        ({"book": {"beta_clamp": ["low", 3.0]}}, "book.beta_clamp.0", "'low'"),
        ({"book": {"beta_clamp": [1.0, 2.0, 3.0]}}, "book.beta_clamp", "[1.0, 2.0, 3.0]"),
        ({"costs": {"funding": "sometimes"}}, "costs.funding", "'sometimes'"),
        ({"walkforward": {"train_days": [365]}}, "walkforward.train_days", "[365]"),
        ({"regime": {"grid": {"min_dwells": [1, "x"]}}}, "regime.grid.min_dwells.1", "'x'"),
        ({"universe": {"majors": "BTC"}}, "universe.majors", "'BTC'"),
        ({"regime": {"exposure": {"BALANCED": "half"}}}, "regime.exposure.BALANCED", "'half'"),
    ],
)
def test_wrong_types_name_the_key_and_show_the_value(
    tmp_path: Path, raw: dict[str, Any], dotted: str, shown: str
) -> None:
    msg = refused(tmp_path, raw)
    assert f"key '{dotted}'" in msg, msg
    assert f"(got {shown})" in msg, msg


@pytest.mark.parametrize(
    ("raw", "dotted", "shown"),
    [
        ({"universe": {"basket_size": 0}}, "universe.basket_size", "0"),
        ({"costs": {"taker_share": 1.5}}, "costs.taker_share", "1.5"),
        ({"book": {"short_gross": -1.0}}, "book.short_gross", "-1.0"),
        ({"walkforward": {"train_days": 30}}, "walkforward.train_days", "30"),
        ({"regime": {"n_states": 9}}, "regime.n_states", "9"),
    ],
)
def test_out_of_range_values_name_the_key(
    tmp_path: Path, raw: dict[str, Any], dotted: str, shown: str
) -> None:
    msg = refused(tmp_path, raw)
    assert f"key '{dotted}'" in msg and f"(got {shown})" in msg


@pytest.mark.parametrize(
    ("raw", "dotted", "shown"),
    [
        ({"regime": {"mode": "svm"}}, "regime.mode", "'svm'"),
        ({"regime": {"objective": "profit"}}, "regime.objective", "'profit'"),
        ({"book": {"weighting": "risk_parity"}}, "book.weighting", "'risk_parity'"),
        ({"data": {"on_bad_values": "ignore"}}, "data.on_bad_values", "'ignore'"),
        ({"universe": {"rank_by": "price"}}, "universe.rank_by", "'price'"),
        ({"walkforward": {"scheme": "expanding"}}, "walkforward.scheme", "'expanding'"),
        ({"costs": {"missing_funding": "mean"}}, "costs.missing_funding", "'mean'"),
    ],
)
def test_literal_choices_reject_unknown_values(
    tmp_path: Path, raw: dict[str, Any], dotted: str, shown: str
) -> None:
    msg = refused(tmp_path, raw)
    assert f"key '{dotted}'" in msg and f"(got {shown})" in msg
    if dotted == "regime.mode":
        for choice in ("composite", "hmm", "kmeans"):
            assert choice in msg


def test_exposure_keys_are_regimes(tmp_path: Path) -> None:
    exposure = {r: 0.0 for r in REGIMES} | {"RISK_OFF": 0.5}
    msg = refused(tmp_path, {"regime": {"exposure": exposure}})
    assert "regime.exposure.RISK_OFF" in msg


NUMERIC_FIELDS = [
    ("regime", "lower"),
    ("regime", "upper"),
    ("regime", "band"),
    ("book", "prior_beta_btc"),
    ("book", "ridge"),
    ("book", "winsor_sigma"),
    ("costs", "capital_usd"),
    ("universe", "min_marketcap"),
]


def test_non_finite_numbers_are_refused(tmp_path: Path) -> None:
    """``.nan`` / ``.inf`` in YAML are not usable parameters. ``resolved()`` dumps them as null,
    so an accepted one could not round-trip and would hash like every other non-finite value."""
    accepted = []
    for section, key in NUMERIC_FIELDS:
        for text in (".nan", ".inf", "-.inf"):
            p = write_yaml(tmp_path, f"{section}:\n  {key}: {text}\n")
            try:
                load_config(p)
            except ConfigError as err:
                assert section in str(err) and str(p) in str(err)
            else:
                accepted.append(f"{section}.{key}: {text}")
    assert not accepted, f"non-finite values accepted: {accepted}"


# ---- cross-field checks ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "section", "words"),
    [
        ({"regime": {"lower": 0.6, "upper": 0.5}}, "regime", ("lower", "upper")),
        ({"book": {"beta_clamp": [3.0, -1.0]}}, "book", ("beta_clamp",)),
        ({"book": {"beta_clamp": [1.0, 1.0]}}, "book", ("beta_clamp",)),
        ({"book": {"major_bounds": [1.5, 0.0]}}, "book", ("major_bounds",)),
        (
            {"book": {"beta_window": 40, "beta_min_obs": 45}},
            "book",
            ("beta_min_obs", "beta_window"),
        ),
        (
            {"features": {"zscore_window": 60, "zscore_min_periods": 90}},
            "features",
            ("zscore_min_periods", "zscore_window"),
        ),
        ({"stats": {"pbo_blocks": 15}}, "stats.pbo_blocks", ("even", "(got 15)")),
        (
            {"regime": {"exposure": {"RISK_ON_MAJORS": 1.0, "BALANCED": 0.0}}},
            "regime",
            ("exposure", "RISK_ON_ALTS"),
        ),
        (
            {"regime": {"grid": {"signs": {"alt_mom_7d": 0.5}}}},
            "regime.grid.signs",
            ("+1 or -1", "alt_mom_7d", "0.5"),
        ),
        (
            {"regime": {"grid": {"signs": {"alt_mom_7d": 0}}}},
            "regime.grid.signs",
            ("+1 or -1", "alt_mom_7d"),
        ),
        ({"universe": {"majors": ["BTC", "BTC"]}}, "universe.majors", ("differ",)),
    ],
)
def test_cross_field_checks(
    tmp_path: Path, raw: dict[str, Any], section: str, words: tuple[str, ...]
) -> None:
    msg = refused(tmp_path, raw)
    assert f"key '{section}'" in msg, msg
    for w in words:
        assert w in msg, (w, msg)


def test_equal_bounds_and_min_obs_at_the_window_are_fine() -> None:
    cfg = parse_config(
        {
            "regime": {"lower": 0.2, "upper": 0.2},
            "book": {"major_bounds": [0.5, 0.5], "beta_window": 45, "beta_min_obs": 45},
            "features": {"zscore_window": 90, "zscore_min_periods": 90},
            "stats": {"pbo_blocks": 4},
        }
    )
    assert cfg.regime.lower == cfg.regime.upper == 0.2
    assert cfg.book.beta_min_obs == cfg.book.beta_window


@pytest.mark.parametrize("majors", [["btc", "BTC"], ["eth", "Eth"]])
def test_majors_equal_after_upper_casing_are_refused(tmp_path: Path, majors: list[str]) -> None:
    msg = refused(tmp_path, {"universe": {"majors": majors}})
    assert "key 'universe.majors'" in msg and "differ" in msg


def test_majors_are_upper_cased() -> None:
    assert parse_config({"universe": {"majors": ["btc", "eth"]}}).universe.majors == ("BTC", "ETH")


# ---- feature names -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "dotted"),
    [
        ({"features": {"enabled": ["alt_mom_7d", "alt_mom_99d"]}}, "features.enabled"),
        ({"regime": {"grid": {"score_features": ["alt_mom_99d"]}}}, "regime.grid.score_features"),
        ({"regime": {"grid": {"signs": {"alt_mom_99d": 1}}}}, "regime.grid.signs"),
        ({"regime": {"default_weights": {"alt_mom_99d": 1.0}}}, "regime.default_weights"),
    ],
)
def test_unknown_feature_names_list_the_registered_ones(
    tmp_path: Path, raw: dict[str, Any], dotted: str
) -> None:
    msg = refused(tmp_path, raw)
    assert dotted in msg and "alt_mom_99d" in msg and "unknown features" in msg
    assert "registered features" in msg
    for name in REGISTERED:
        assert name in msg


def test_score_features_must_be_enabled(tmp_path: Path) -> None:
    msg = refused(tmp_path, {"features": {"enabled": ["alt_mom_7d", "alt_mom_20d"]}})
    assert "regime.grid.score_features" in msg and "features.enabled" in msg
    assert "btc_dom_chg_20d" in msg
    ok = parse_config(
        {
            "features": {"enabled": ["alt_mom_7d", "btc_dom"]},
            "regime": {
                "default_weights": {"alt_mom_7d": -1.0},
                "grid": {"score_features": ["alt_mom_7d"], "signs": {"alt_mom_7d": -1}},
            },
        }
    )
    assert ok.features.enabled == ("alt_mom_7d", "btc_dom")


def test_every_default_feature_name_is_registered() -> None:
    cfg = Config()
    for names in (
        cfg.regime.grid.score_features,
        cfg.regime.grid.signs,
        cfg.regime.default_weights,
    ):
        assert set(names) <= set(REGISTERED)


# ---- with_overrides ----------------------------------------------------------------------------
def test_with_overrides_changes_only_the_given_paths(tmp_path: Path) -> None:
    base = parse_config({"regime": {"lower": -0.3}, "paths": {"duckdb": None}})
    lake = tmp_path / "lake"
    got = base.with_overrides(lake=lake)
    assert got.paths.data_lake == lake
    assert got.paths.duckdb is None and got.paths.output_root == base.paths.output_root
    assert got.model_copy(update={"paths": base.paths}) == base
    duck, out = tmp_path / "r.duckdb", tmp_path / "out"
    got = base.with_overrides(duckdb=duck, output_root=out)
    assert (got.paths.data_lake, got.paths.duckdb, got.paths.output_root) == (
        base.paths.data_lake,
        duck,
        out,
    )
    assert base.with_overrides() == base
    # the original is frozen and untouched
    assert base.paths.data_lake == Config().paths.data_lake
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        base.paths.data_lake = lake  # type: ignore[misc]


# ---- hash ---------------------------------------------------------------------------------------
def test_hash_is_stable_and_short() -> None:
    h = Config().hash()
    assert len(h) == 16 and int(h, 16) >= 0
    assert Config().hash() == h == load_config().hash()
    # the same values written in another key order hash the same
    raw = Config().resolved()
    reordered = {k: raw[k] for k in reversed(list(raw))}
    reordered["regime"] = {k: raw["regime"][k] for k in reversed(list(raw["regime"]))}
    assert parse_config(reordered).hash() == h


def test_hash_is_stable_across_processes() -> None:
    code = "from majors_alts_monitor.config import Config; print(Config().hash())"
    outs = set()
    for seed in ("1", "2"):
        env = os.environ | {"PYTHONHASHSEED": seed}
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        outs.add(res.stdout.strip())
    assert outs == {Config().hash()}


def test_hash_ignores_paths(tmp_path: Path) -> None:
    base = Config()
    moved = base.with_overrides(lake=tmp_path / "a", duckdb=tmp_path / "b", output_root=tmp_path)
    assert moved != base and moved.hash() == base.hash()
    assert parse_config({"paths": {"duckdb": None}}).hash() == base.hash()


@pytest.mark.parametrize(
    "change",
    [
        {"regime": {"lower": -0.4}},
        {"book": {"ridge": 0.1}},
        {"universe": {"basket_size": 19}},
        {"universe": {"exclude": ["USDT"]}},
        {"costs": {"funding": False}},
        {"regime": {"grid": {"seed": 1}}},
        {"stats": {"seed": 1}},
        {"features": {"enabled": REGISTERED}},
        {"walkforward": {"burn_in_days": 200}},
        {"data": {"on_bad_values": "error"}},
    ],
)
def test_hash_changes_with_a_model_parameter(change: dict[str, Any]) -> None:
    cfg = parse_config(change)
    assert cfg != Config()
    assert cfg.hash() != Config().hash()


# ---- resolved ------------------------------------------------------------------------------------
def _non_default() -> Config:
    return parse_config(
        {
            "paths": {"data_lake": "/data/lake", "duckdb": None, "output_root": "out"},
            "universe": {"majors": ["eth", "btc"], "aliases": {"SATS": "1000SATS", "X": "Y"}},
            "book": {"beta_clamp": [-0.5, 2.5], "weighting": "inverse_vol"},
            "features": {"enabled": REGISTERED},
            "regime": {
                "mode": "hmm",
                "exposure": {"RISK_ON_MAJORS": 0.7, "BALANCED": 0.2, "RISK_ON_ALTS": -0.1},
                "grid": {"weight_values": [0.25, 1.0], "signs": {"btc_dom": 1}},
            },
            "walkforward": {"burn_in_days": 0, "scheme": "anchored"},
            "signals": {"history_days": 600},
        }
    )


@pytest.mark.parametrize("cfg", [Config(), _non_default()], ids=["defaults", "non_default"])
def test_resolved_round_trips(cfg: Config, tmp_path: Path) -> None:
    resolved = cfg.resolved()
    assert parse_config(resolved) == cfg
    assert parse_config(resolved).hash() == cfg.hash()
    # and through a YAML file, the way a run manifest's resolved config would be reused
    assert load_config(write_yaml(tmp_path, resolved)) == cfg


@settings(max_examples=40, deadline=None)
@given(
    lower=st.floats(-3, 0, allow_nan=False),
    width=st.floats(0, 3, allow_nan=False),
    ridge=st.floats(0, 10, allow_nan=False),
    basket=st.integers(1, 200),
    seed=st.integers(0, 2**31),
)
def test_resolved_round_trips_property(
    lower: float, width: float, ridge: float, basket: int, seed: int
) -> None:
    raw = {
        "regime": {"lower": lower, "upper": lower + width, "grid": {"seed": seed}},
        "book": {"ridge": ridge},
        "universe": {"basket_size": basket},
    }
    cfg = parse_config(raw)
    again = parse_config(cfg.resolved())
    assert again == cfg and again.hash() == cfg.hash()
    assert (cfg.hash() == Config().hash()) == (cfg == Config())


# ---- through the command line -----------------------------------------------------------------
@pytest.fixture
def cli_logging() -> Iterator[None]:
    """``cli.main`` installs a stderr handler on the package logger (bound to the captured
    stream); put the logger back as it was so later tests do not write to a closed stream."""
    logger = logging.getLogger("majors_alts_monitor")
    handlers, propagate, level = list(logger.handlers), logger.propagate, logger.level
    yield
    logger.handlers[:] = handlers
    logger.propagate, logger.level = propagate, level


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("universe:\n  basket_sise: 5\n", "universe.basket_sise"),
        ("regime:\n  mode: svm\n", "regime.mode"),
        ("book:\n  beta_window: many\n", "book.beta_window"),
        ("universe: [unclosed\n", "not valid YAML"),
    ],
)
def test_cli_bad_config_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_logging: None, text: str, needle: str
) -> None:
    bad = write_yaml(tmp_path, text, "bad.yaml")
    code = cli.main(["run", "--config", str(bad), "--lake", "/nonexistent"])
    assert code == 2
    err = capsys.readouterr().err
    assert needle in err and str(bad) in err
    assert "Traceback" not in err


def test_cli_missing_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_logging: None
) -> None:
    missing = tmp_path / "missing.yaml"
    assert cli.main(["signals", "--config", str(missing), "--lake", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "What to do:" in err
