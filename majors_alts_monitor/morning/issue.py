"""What ``signals`` (and ``daily``) do around an issued signal: the orders against yesterday's
book from the ledger (``--capital`` without ``--positions``), the ledger record once the signal
is published, and the signal handed to the alert (``notify.record``)."""

from __future__ import annotations

import argparse
from typing import Any

from ..config import Config
from ..publish.layout import OutputRoot
from . import ledger, notify


class Issuing:
    """One issued signal: ``__init__`` before the signal's file is rendered (it may set its
    ``orders``), ``record`` under the output root's lock after it is published."""

    def __init__(self, cfg: Config, sig: dict[str, Any], args: argparse.Namespace) -> None:
        self.cfg, self.sig = cfg, sig
        self.command = getattr(args, "issued_by", None) or "signals"
        self.appended: ledger.Appended | None = None
        capital = getattr(args, "capital", None)
        if capital is not None and getattr(args, "positions", None) is None:
            records = ledger.read(ledger.ledger_dir(cfg.paths.output_root))
            sig["orders"] = ledger.orders_against_ledger(
                sig, records, capital, getattr(args, "min_order", 0.0) or 0.0
            )

    def record(self, out: OutputRoot) -> ledger.Appended:
        from ..pipeline import make_reader

        fp = ledger.lake_fingerprint(make_reader(self.cfg).fingerprint())
        self.appended = ledger.issue(out, self.sig, command=self.command, lake_fp=fp)
        notify.record(self.sig, self.appended.record)
        return self.appended

    def text(self) -> str:
        return "" if self.appended is None else "  " + self.appended.line()
