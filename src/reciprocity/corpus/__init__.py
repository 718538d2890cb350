"""The utterance table: reading, writing and validation."""

from reciprocity.corpus.io import FORMATS, infer_format, read, write
from reciprocity.corpus.validate import validate

__all__ = ["FORMATS", "infer_format", "read", "validate", "write"]
