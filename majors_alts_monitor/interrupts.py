"""Ctrl-C: held while compiled parallel code runs (``sigint_deferred``), and never lost to a
library that swallows the KeyboardInterrupt (``sticky_sigint``)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) while a compiled kernel runs; it is re-raised under the previous
    handler (a KeyboardInterrupt by default) the moment the kernel returns.

    The parallel kernel calls back into Python (numba's ``_numba_unpickle``). A SIGINT that
    arrives meanwhile, on any thread, makes the interpreter raise KeyboardInterrupt inside that
    callback, which the compiled code does not expect: the process crashed (segmentation fault)
    or reported ``SystemError: ... returned a result with an exception set``. Here the handler
    in force during the kernel only records the signal, so the callback returns normally."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hit: list[int] = []
    old = signal.signal(signal.SIGINT, lambda signum, _frame: hit.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old if old is not None else signal.SIG_DFL)
        if hit:
            signal.raise_signal(signal.SIGINT)


_pending = False


def _remember_and_raise(signum: int, frame: FrameType | None) -> None:
    global _pending
    _pending = True
    raise KeyboardInterrupt


@contextmanager
def sticky_sigint() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt as usual and is also remembered until the block ends:
    a KeyboardInterrupt raised while a library runs a Python callback for compiled code (polars
    converting a date literal, pyo3 extracting an argument) can be printed as "Exception
    ignored" and dropped, and the run would go on and write its outputs. ``raise_if_interrupted``
    at each stage boundary and before any output is written raises it again."""
    global _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _pending = False
    old = signal.signal(signal.SIGINT, _remember_and_raise)
    old_hook = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        # the dropped Ctrl-C is remembered: its "Exception ignored ... Traceback" is noise
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            old_hook(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old if old is not None else signal.SIG_DFL)
        if sys.unraisablehook is hook:
            sys.unraisablehook = old_hook
        _pending = False


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if a Ctrl-C arrived inside ``sticky_sigint`` (even one that a
    library swallowed)."""
    if _pending:
        raise KeyboardInterrupt


def caused_by_interrupt(err: BaseException) -> bool:
    """A Ctrl-C that surfaced as another exception: a KeyboardInterrupt raised inside a
    Python callback of compiled code comes back as ``SystemError: ... returned a result with
    an exception set`` with the KeyboardInterrupt as its cause (the grid search holds SIGINT
    for this reason, ``regime.search.sigint_deferred``); libraries may also wrap it as a
    context."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False
