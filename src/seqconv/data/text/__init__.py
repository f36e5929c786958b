"""Text data: review sources, tokenizers fit on the training split, padded batches and length bucketing."""

from seqconv.data.text.dataset import TokenizedDataset, pad_batch
from seqconv.data.text.preprocessor import TextPreprocessor
from seqconv.data.text.reviews import IMDB_SHA256, IMDB_URL, ReviewsDataModule
from seqconv.data.text.sampler import BucketBatchSampler
from seqconv.data.text.sources import (
    LabelledTexts,
    ReviewCorpus,
    clean_review,
    find_class_folders,
    fingerprint,
    read_class_folders,
    read_table,
)
from seqconv.data.text.tokenizers import (
    TOKENIZERS,
    CharTokenizer,
    SubwordTokenizer,
    TextTokenizer,
    WordTokenizer,
    create_tokenizer,
    load_tokenizer,
    tokenizer_from_state,
)
from seqconv.data.text.vectors import load_word_vectors
from seqconv.data.text.vocab import Vocabulary

__all__ = [
    "IMDB_SHA256",
    "IMDB_URL",
    "TOKENIZERS",
    "BucketBatchSampler",
    "CharTokenizer",
    "LabelledTexts",
    "ReviewCorpus",
    "ReviewsDataModule",
    "SubwordTokenizer",
    "TextPreprocessor",
    "TextTokenizer",
    "TokenizedDataset",
    "Vocabulary",
    "WordTokenizer",
    "clean_review",
    "create_tokenizer",
    "find_class_folders",
    "fingerprint",
    "load_tokenizer",
    "load_word_vectors",
    "pad_batch",
    "read_class_folders",
    "read_table",
    "tokenizer_from_state",
]
