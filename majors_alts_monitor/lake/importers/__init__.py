"""Importers: Binance and CoinGecko CSV exports into a user-owned lake in the contract
(``majors-alts import``), and ``majors-alts check-lake``. Pure parsers in ``binance.py`` and
``coingecko.py``, the writer in ``common.py``, the commands in ``commands.py``."""
