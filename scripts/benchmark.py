"""seqconv's performance suite (the same as ``seqconv-bench``); see ``python scripts/benchmark.py --help``."""

from seqconv.bench.cli import main

if __name__ == "__main__":
    main()
