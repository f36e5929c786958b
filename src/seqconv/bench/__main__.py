"""``python -m seqconv.bench``: the performance suite, the same as ``seqconv-bench``."""

from seqconv.bench.cli import main

if __name__ == "__main__":
    main()
