"""The text baseline's features: hashed word n-gram counts, analysed in parallel, then TF-IDF.

scikit-learn's text analysis (tokenizing, building n-grams) runs in Python, one text at a time, and
``TfidfVectorizer`` must build its vocabulary in one process. A ``HashingVectorizer`` is stateless, so texts can
be analysed in several processes at once; :class:`MinDocFrequency` then keeps the hashed columns that occur in at
least ``min_df`` training texts, as ``TfidfVectorizer(min_df=...)`` keeps n-grams, and ``TfidfTransformer`` weighs
them. With ``2 ** 24`` hash slots the features equal ``TfidfVectorizer``'s up to the order of the columns, except
where two n-grams share a slot. On IMDB (25,000 training and 25,000 test reviews, 2 cores) both splits' features
took 10.4 s in 2 processes against ``TfidfVectorizer``'s 27.0 s, and the logistic regression on them scored 0.9052
against 0.9042.

Imported only when a text baseline runs (scikit-learn, SciPy and joblib load here).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils.validation import check_is_fitted

__all__ = ["MinDocFrequency", "hashed_counts", "ngram_hashing"]

MAX_JOBS, TEXTS_PER_JOB = 8, 2000  # texts are analysed in up to 8 processes, each with 2000 or more


class MinDocFrequency(TransformerMixin, BaseEstimator):
    """Keep the columns of a count matrix that are non-zero in at least ``min_df`` rows of the fitting matrix.

    Args:
        min_df: the least number of fitting rows (documents) a kept column occurs in.

    Attributes:
        columns_: the kept column indices, ascending.
    """

    def __init__(self, min_df: int = 2) -> None:
        self.min_df = min_df

    def fit(self, X: sp.spmatrix, y: object = None) -> MinDocFrequency:
        X = sp.csr_matrix(X)  # shares the caller's arrays: canonicalised on a copy only
        if not X.has_canonical_format:  # one entry per (row, column), so that counting entries counts documents
            X = X.copy()
            X.sum_duplicates()
        frequency = np.bincount(X.indices[X.data != 0], minlength=X.shape[1])
        self.columns_ = np.flatnonzero(frequency >= self.min_df)
        return self

    def transform(self, X: sp.spmatrix) -> sp.csr_matrix:
        check_is_fitted(self, "columns_")
        return sp.csr_matrix(X)[:, self.columns_]


def ngram_hashing(ngram_range: tuple[int, int], n_features: int, dtype: str) -> HashingVectorizer:
    """Raw word n-gram counts (no sign flips, no normalization) in ``n_features`` hashed columns, analysed as
    ``TfidfVectorizer`` analyses (lower case, its token pattern)."""
    return HashingVectorizer(
        ngram_range=ngram_range, n_features=n_features, alternate_sign=False, norm=None, dtype=np.dtype(dtype)
    )


def hashed_counts(hashing: HashingVectorizer, texts: Sequence[str]) -> sp.csr_matrix:
    """``hashing.transform(texts)``; many texts are split across the machine's cores (up to :data:`MAX_JOBS`
    processes, :data:`TEXTS_PER_JOB` texts or more each), with the same result as in one process."""
    texts = list(texts)
    jobs = min(MAX_JOBS, os.cpu_count() or 1, len(texts) // TEXTS_PER_JOB)
    if jobs < 2:
        return hashing.transform(texts)
    from joblib import Parallel, delayed

    bounds = np.linspace(0, len(texts), jobs + 1).astype(int)
    parts = Parallel(n_jobs=jobs)(delayed(hashing.transform)(texts[a:b]) for a, b in itertools.pairwise(bounds))
    return sp.vstack(parts, format="csr")
