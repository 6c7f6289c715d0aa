"""Majors vs Alts regime monitor: when does a long BTC/ETH, short alt-basket book pay?"""

__version__ = "0.1.0"
