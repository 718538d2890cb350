"""The utterance table: reading, writing, validation and its compact in-memory form."""

from reciprocity.corpus.compact import compact
from reciprocity.corpus.io import FORMATS, infer_format, read, write
from reciprocity.corpus.validate import validate

__all__ = ["FORMATS", "compact", "infer_format", "read", "validate", "write"]
