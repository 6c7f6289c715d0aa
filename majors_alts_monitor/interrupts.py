"""Holding Ctrl-C while compiled parallel code runs (see ``sigint_deferred``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


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
