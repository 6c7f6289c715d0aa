"""numba's BLAS probe answered by ``scipy_blas.load_cython_blas`` (no ``scipy.linalg`` import),
with the import system's behaviour kept: each case runs in a fresh interpreter, since the point
is what a process has imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _python(code: str) -> str:
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_numba_first_call_without_scipy_linalg_and_blas_still_works():
    out = _python(
        """
        import sys
        import numpy as np
        from majors_alts_monitor.scipy_blas import load_cython_blas
        assert load_cython_blas() is True
        assert load_cython_blas() is False  # idempotent
        from majors_alts_monitor.market.row_median import row_nanmedian
        x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
        assert np.array_equal(row_nanmedian(x), np.nanmedian(x, axis=1))  # numba's context built
        import numba.np.arraymath
        assert numba.np.arraymath._HAVE_BLAS  # the probe found a BLAS
        print("scipy.linalg" in sys.modules)
        import numba

        @numba.njit
        def dot(a, b):  # numba's compiled BLAS, through the module loaded early
            return np.dot(a, b)

        rng = np.random.default_rng(0)
        a, b = rng.normal(size=(7, 5)), rng.normal(size=(5, 3))
        print(np.abs(dot(a, b) - a @ b).max() < 1e-12)
        """
    )
    assert out.splitlines() == ["False", "True"]


def test_a_later_scipy_linalg_import_behaves_as_usual():
    out = _python(
        """
        import sys
        from majors_alts_monitor.scipy_blas import load_cython_blas
        assert load_cython_blas()
        early = sys.modules["scipy.linalg.cython_blas"]
        import scipy.linalg.cython_blas
        import scipy.linalg
        print(scipy.linalg.cython_blas is early)  # bound to its package, as by a normal import
        from scipy.linalg import cython_blas
        print(cython_blas is early)
        print(float(scipy.linalg.inv([[4.0]])[0, 0]))
        print(any(type(f).__name__ == "_BindOnParentImport" for f in sys.meta_path))  # one-shot
        """
    )
    assert out.splitlines() == ["True", "True", "0.25", "False"]


def test_nothing_to_do_once_scipy_linalg_is_loaded():
    out = _python(
        """
        import sys
        import scipy.linalg
        from majors_alts_monitor.scipy_blas import load_cython_blas
        n = len(sys.meta_path)
        print(load_cython_blas(), len(sys.meta_path) == n)
        """
    )
    assert out == "False True"


def test_importing_the_commands_builds_no_numba_context():
    """The commands call it first thing; importing their modules imports numba but builds no
    compilation context (which would probe BLAS before the call)."""
    out = _python(
        """
        import sys
        from majors_alts_monitor import cli, pipeline  # what the commands import
        print("scipy.linalg" in sys.modules, "numba.np.arraymath" in sys.modules)
        """
    )
    assert out == "False False"  # the commands' own run is checked in test_cli_e2e
