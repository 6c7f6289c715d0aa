"""What ``signals`` (and ``daily``) do around an issued signal: the orders against yesterday's
book from the ledger (``--capital`` without ``--positions``), the ledger record once the signal
is published, and the signal handed to the alert (``notify.record``)."""

from __future__ import annotations

import argparse
from typing import Any

from ..config import Config
from ..lake.data_io import LakeReader
from ..publish.layout import OutputRoot
from . import ledger, notify


class Issuing:
    """One issued signal: ``__init__`` before the signal's file is rendered (it may set its
    ``orders``), ``record`` under the output root's lock after it is published."""

    def __init__(
        self,
        cfg: Config,
        sig: dict[str, Any],
        args: argparse.Namespace,
        reader: LakeReader | None = None,
    ) -> None:
        self.cfg, self.sig = cfg, sig
        self.reader = reader  # the one the signal read: its generation is the fingerprint's
        self.command = getattr(args, "issued_by", None) or "signals"
        self.asof = getattr(args, "asof", None) is not None  # a backfill, not today's call
        self.appended: ledger.Appended | None = None
        capital = getattr(args, "capital", None)
        if capital is not None and getattr(args, "positions", None) is None:
            records = ledger.read(ledger.ledger_dir(cfg.paths.output_root))
            sig["orders"] = ledger.orders_against_ledger(
                sig, records, capital, getattr(args, "min_order", 0.0) or 0.0
            )

    def record(self, out: OutputRoot) -> ledger.Appended:
        from ..pipeline import make_reader

        reader = self.reader if self.reader is not None else make_reader(self.cfg)
        fp = ledger.lake_fingerprint(reader.fingerprint())
        self.appended = ledger.issue(
            out, self.sig, command=self.command, lake_fp=fp, asof=self.asof
        )
        notify.record(self.sig, self.appended.record)
        return self.appended

    def text(self) -> str:
        return "" if self.appended is None else "  " + self.appended.line()
