"""Majors vs Alts regime monitor: when does a long BTC/ETH, short alt-basket book pay?

The version moves with ``CHANGELOG.md``: every change that moves a user's numbers gets an entry.
"""

__version__ = "0.2.0.dev0"
