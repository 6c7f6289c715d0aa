"""MkDocs hook: the configuration reference is generated from the pydantic models at build time,
so the page cannot drift from the code.

Each key's row gives its dotted name, type, default (the models' defaults, as the packaged
``config.yaml`` mirrors them) and description: the ``Field(description=...)`` when the model
has one, else the comment on that key's line of the packaged ``config.yaml``. A page that holds
the marker ``<!-- config-reference -->`` gets the tables in its place. ``config_reference()``
is importable on its own (the tests check that every key is described).
"""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from majors_alts_monitor.config import DEFAULT_CONFIG_PATH, Config

MARKER = "<!-- config-reference -->"


def yaml_comments(path: Path = DEFAULT_CONFIG_PATH) -> dict[str, str]:
    """``dotted.key -> comment`` from ``key: value  # comment`` lines of a YAML file (block
    mappings only; a comment on a continuation line is joined to the key above it)."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    last = None
    for line in path.read_text().splitlines():
        m = re.match(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):(.*)$", line)
        if m:
            indent, key, rest = len(m.group(1)), m.group(2), m.group(3)
            while stack and stack[-1][0] >= indent:
                stack.pop()
            dotted = ".".join([k for _, k in stack] + [key])
            stack.append((indent, key))
            last = dotted
            if "#" in rest:
                out[dotted] = rest.split("#", 1)[1].strip()
        elif last is not None and line.strip().startswith(("#", "- ")) is False and "#" in line:
            extra = line.split("#", 1)[1].strip()
            if extra:
                out[last] = (out.get(last, "") + " " + extra).strip()
    return out


def _type_name(ann: Any) -> str:
    origin = typing.get_origin(ann)
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in typing.get_args(ann))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in typing.get_args(ann))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(ann)[0])
    if origin is tuple and typing.get_args(ann)[-1:] == (Ellipsis,):
        return f"list[{_type_name(typing.get_args(ann)[0])}]"
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(ann))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if ann is type(None):
        return "null"
    return getattr(ann, "__name__", str(ann))


def _leaves(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any, str | None]]:
    rows = []
    for name, f in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = f.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows += _leaves(ann, key + ".")
        else:
            rows.append((key, ann, f.description))
    return rows


def _default(resolved: dict, key: str) -> str:
    node: Any = resolved
    for part in key.split("."):
        node = node[part]
    text = json.dumps(node)
    return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}...`"


def config_rows() -> list[tuple[str, str, str, str]]:
    """``(key, type, default, description)`` for every leaf key of the configuration."""
    comments = yaml_comments()
    resolved = Config().resolved()
    return [
        (key, _type_name(ann), _default(resolved, key), desc or comments.get(key, ""))
        for key, ann, desc in _leaves(Config)
    ]


def config_reference() -> str:
    """The configuration reference as Markdown: one table per section."""
    out: list[str] = []
    section = None
    for key, typ, default, desc in config_rows():
        top = key.split(".")[0]
        if top != section:
            section = top
            out += [
                "",
                f"### `{top}`",
                "",
                "| key | type | default | meaning |",
                "|---|---|---|---|",
            ]
        cell = desc.replace("|", "\\|")
        out.append(f"| `{key}` | {typ} | {default} | {cell} |")
    return "\n".join(out).strip() + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:  # noqa: ARG001
    if MARKER in markdown:
        return markdown.replace(MARKER, config_reference())
    return markdown
