"""numba's BLAS probe, answered without importing all of ``scipy.linalg``.

The first call of any compiled function in a process (even one loaded from numba's on-disk
cache) builds numba's compilation context, which imports ``numba.np.arraymath``; that module
checks that a BLAS is available with ``import scipy.linalg.cython_blas``. Importing the
submodule runs ``scipy/linalg/__init__.py`` first, which imports the whole of scipy.linalg
and, through scipy's array-API layer, ``numpy.f2py``: 0.13 to 0.25 s on the 2-core benchmark
machine, about a tenth of a warm demo run, for a table of BLAS function pointers that no
kernel of this package calls.

:func:`load_cython_blas` loads that one extension module by itself (about 5 ms) and registers
it under its full name, as the import system would. numba's probe then finds it in
``sys.modules``, and numba's compiled linear algebra (``np.dot`` in a kernel) would find the
same function pointers there, since it looks the module up by name. A later
``import scipy.linalg`` still runs the package as usual (its ``__init__`` does not import
``cython_blas``), and a one-shot import hook then binds the module loaded here as the
package's ``cython_blas`` attribute, as the import system binds a submodule to its parent.
Anything unexpected (no scipy, another layout, a failing load) leaves everything as it was,
and numba imports scipy.linalg itself, as before.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

NAME = "scipy.linalg.cython_blas"
PARENT = "scipy.linalg"
_LOCK = threading.Lock()  # one load and one hook, whatever the threads calling


class _BindOnParentImport(importlib.abc.MetaPathFinder):
    """Once: when ``scipy.linalg`` is imported, run it as usual, then bind the loaded
    ``cython_blas`` as its attribute (``scipy.linalg.cython_blas`` after
    ``import scipy.linalg.cython_blas``, as without the early load)."""

    def find_spec(
        self, fullname: str, path: object, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != PARENT:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_bind(module: ModuleType) -> None:
            exec_module(module)
            if NAME in sys.modules and not hasattr(module, "cython_blas"):
                module.cython_blas = sys.modules[NAME]

        spec.loader.exec_module = exec_and_bind
        return spec


def _extension_path() -> Path | None:
    spec = importlib.util.find_spec("scipy")
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(base) / "linalg" / f"cython_blas{suffix}"
            if path.is_file():
                return path
    return None


def load_cython_blas() -> bool:
    """Load ``scipy.linalg.cython_blas`` without its package; True if this call loaded it.
    Idempotent (and thread-safe), and a no-op once ``scipy.linalg`` or the module itself is
    loaded."""
    with _LOCK:
        return _load()


def _load() -> bool:
    if NAME in sys.modules or PARENT in sys.modules:
        return False
    try:
        path = _extension_path()
        if path is None:
            return False
        import scipy  # noqa: F401  (the parent package, light, as a normal import loads it)

        spec = importlib.util.spec_from_file_location(NAME, path)
        if spec is None or spec.loader is None:
            return False
        module = importlib.util.module_from_spec(spec)
        sys.modules[NAME] = module
        spec.loader.exec_module(module)
        if not getattr(module, "__pyx_capi__", None):  # not the table numba reads
            raise ImportError(f"{path} has no __pyx_capi__")
    except Exception:
        sys.modules.pop(NAME, None)
        return False
    sys.meta_path.insert(0, _BindOnParentImport())
    return True
