"""Walk-forward backtest: ``python backtest.py model=tcn backtest.folds=5`` (see conf/backtest.yaml)."""

from seqconv.cli.backtest import entry

if __name__ == "__main__":
    entry()
