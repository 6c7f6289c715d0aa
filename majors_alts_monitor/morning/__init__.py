"""The morning instrument's own records and messages: the ledger of every issued signal
(``ledger``), what it says against the backtest (``ledger_report``), webhook alerts
(``notify``) and the ``daily`` and ``ledger`` commands (``commands``)."""
