"""Reading a configuration: YAML files (PyYAML's safe loader), validation errors that name the
key and the source, and dotted-key overrides (``universe.basket_size: 10``) as sweeps and the
Python API apply them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from .model import Config
from .sections import DEFAULT_CONFIG_PATH


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        msg = str(e["msg"]).removeprefix("Value error, ")
        if not e["loc"]:
            lines.append(f"  - {msg}")
        elif e["type"] == "extra_forbidden":
            lines.append(
                f"  - unknown key '{key}' (check the spelling; see config.yaml for the keys)"
            )
        else:
            got = e.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"  - key '{key}': {msg}{shown}")
    return "\n".join(lines)


def parse_config(raw: dict[str, Any] | None, source: str = "<dict>") -> Config:
    """Validate a mapping into a Config; errors name the key and the source."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"invalid configuration in {source}: the top level must be a mapping")
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source)) from None


def read_yaml(path: Path, what: str = "configuration file") -> Any:
    """The YAML document in ``path`` by ``yaml.safe_load`` (PyYAML's Python parser: libyaml's C
    parser, about 13 ms faster on the packaged config, accepts tabs where YAML forbids them, so a
    file it reads may be one this tool used to refuse). Text that is not UTF-8, invalid YAML and
    a value YAML cannot construct (a date like 2024-02-30) are a ``ConfigError`` naming ``what``
    and the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{what} {path} is not UTF-8 text ({err.reason} at byte {err.start}). "
            "What to do: save it as UTF-8"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} {path} is not valid YAML: {err}") from None
    except RecursionError:
        raise ConfigError(
            f"{what} {path} is nested too deeply to read. What to do: a configuration is a few "
            "levels of mappings; check the file"
        ) from None
    except (ValueError, TypeError, OverflowError) as err:  # a scalar YAML parsed, then refused
        raise ConfigError(
            f"{what} {path} holds a value that cannot be read: {err}. "
            "What to do: correct it (dates as YYYY-MM-DD, a real calendar day)"
        ) from None


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate a YAML config file (the packaged default when ``path`` is None)."""
    p = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    if not p.is_file():
        raise ConfigError(
            f"configuration file {p} not found. What to do: pass --config with an existing file, "
            f"for example {DEFAULT_CONFIG_PATH}"
        )
    return parse_config(read_yaml(p), str(p))


def set_dotted(raw: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Set ``a.b.c`` in a nested mapping, creating mappings on the way; a non-mapping on the
    way is an error naming the key."""
    parts = key.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            where = ".".join(parts[: i + 1])
            raise ConfigError(
                f"invalid configuration in {source}: key '{key}' goes through '{where}', "
                "which is not a section"
            )
        node = nxt
    node[parts[-1]] = value


def get_dotted(resolved: dict[str, Any], key: str) -> Any:
    node: Any = resolved
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) and part in node else None
    return node


def apply_overrides(base: Config, overrides: dict[str, Any], source: str = "<overrides>") -> Config:
    """``base`` with dotted keys set (``{"universe.basket_size": 10}``), validated as a whole
    like a file: an unknown key or a bad value is a ``ConfigError`` naming the key and
    ``source``."""
    raw = json.loads(base.model_dump_json())
    for k, v in overrides.items():
        set_dotted(raw, str(k), v, source)
    return parse_config(raw, source)
