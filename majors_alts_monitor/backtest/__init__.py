"""The backtest: the vectorised engine with fees, slippage and funding (``engine``), the
walk-forward folds (``folds``), the walk of one configuration over them (``walk``), the records
the stages hand each other (``stages``), the search's trials out of sample (``trials``) and the
robustness re-runs on the prepared arrays (``robustness``). ``engine`` and ``folds`` sit below
``regime`` (its grid search prices trades with the engine's costs); the rest above it."""
