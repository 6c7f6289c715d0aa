"""Parameter sweeps: every point a full walk-forward run, on a local or remote Dask cluster.

``spec`` reads SWEEP.yaml, ``worker`` runs one point with per-process caches, ``runner``
schedules the points and writes as they finish, ``results`` is the deterministic result table
and the sweep-level deflated Sharpe, ``dashboard`` the self-contained sweep page.
"""
