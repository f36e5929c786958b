"""The text baseline's hashed features: the same TF-IDF matrix as scikit-learn's ``TfidfVectorizer`` (up to the
order of the columns) when no two n-grams share a slot, the document-frequency filter by hand, and the parallel
analysis equal to one process."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

from seqconv.tasks import text_features
from seqconv.tasks.text_features import MinDocFrequency, hashed_counts, ngram_hashing

TEXTS = [
    "A fine film, a FINE plot.",
    "the plot was dull; the film was dull",
    "fine actors in a dull film",
    "nothing here at all",
    "a plot, a film, an ending: fine",
]


def _rows(matrix: sp.csr_matrix) -> list[list[float]]:
    """Each row's non-zero values, sorted: equal for two matrices whose columns are a permutation of each other."""
    matrix = sp.csr_matrix(matrix)
    return [sorted(np.round(matrix[i].data, 6).tolist()) for i in range(matrix.shape[0])]


def test_hashed_tfidf_equals_tfidf_vectorizer_without_collisions():
    reference = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, dtype=np.float32)
    expected_train = reference.fit_transform(TEXTS[:4])
    expected_test = reference.transform(TEXTS[4:])
    hashing = ngram_hashing((1, 2), 2**24, "float32")
    counts = hashed_counts(hashing, TEXTS)
    distinct = {term for text in TEXTS for term in hashing.build_analyzer()(text)}
    assert len(set(counts.indices)) == len(distinct)  # no two n-grams of this corpus share a slot
    keep = MinDocFrequency(2).fit(counts[:4])
    assert len(keep.columns_) == len(reference.vocabulary_)
    weights = TfidfTransformer(sublinear_tf=True).fit(keep.transform(counts[:4]))
    assert _rows(weights.transform(keep.transform(counts[:4]))) == _rows(expected_train)
    assert _rows(weights.transform(keep.transform(counts[4:]))) == _rows(expected_test)


def test_min_doc_frequency_counts_documents_by_hand():
    counts = sp.csr_matrix(np.array([[3, 0, 1, 0], [1, 0, 0, 0], [0, 2, 1, 0]], dtype=np.float32))
    assert MinDocFrequency(2).fit(counts).columns_.tolist() == [0, 2]  # column 0: 2 documents (4 occurrences)
    assert MinDocFrequency(1).fit(counts).columns_.tolist() == [0, 1, 2]
    kept = MinDocFrequency(2).fit(counts).transform(sp.csr_matrix(np.array([[5, 6, 7, 8]], dtype=np.float32)))
    assert kept.toarray().tolist() == [[5, 7]]
    repeated = sp.csr_matrix((np.ones(3, np.float32), [1, 1, 2], [0, 3]), shape=(1, 4))  # column 1 entered twice
    assert MinDocFrequency(2).fit(repeated).columns_.tolist() == []  # one document, however many entries
    assert repeated.indices.tolist() == [1, 1, 2]  # the caller's matrix is left as it was
    with pytest.raises(Exception, match="not fitted"):
        MinDocFrequency(2).transform(counts)


def test_parallel_analysis_equals_one_process(monkeypatch):
    rng = np.random.default_rng(0)
    words = ["fine", "dull", "film", "plot", "actor", "scene", "ending"]
    texts = [" ".join(rng.choice(words, size=8)) for _ in range(2500)]
    hashing = ngram_hashing((1, 2), 2**20, "float32")
    monkeypatch.setattr(text_features.os, "cpu_count", lambda: 1)
    serial = hashed_counts(hashing, texts)
    monkeypatch.setattr(text_features.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(text_features, "TEXTS_PER_JOB", 1000)
    parallel = hashed_counts(hashing, texts)
    assert (serial != parallel).nnz == 0 and serial.shape == parallel.shape == (2500, 2**20)
