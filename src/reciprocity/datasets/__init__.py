"""Adapters that turn the real corpora (``../shared/data``) into the toolkit's utterance table.

Every loader has the signature ``load_xxx(data_dir=None, **options) -> pandas.DataFrame`` and returns one row per
utterance (per sentence for ``load_persuasionforgood(annotated=True, unit="sentence")``) with:

* ``conversation_id``, ``speaker``, ``text`` (str; the required columns of :mod:`reciprocity.schema`);
* ``id`` (``"<conversation_id>:<turn>"``, unique across the table), ``turn`` (0-based order within the
  conversation), ``reply_to`` (id of the previous utterance in the conversation, NA for the first);
* ``dataset`` (the registry name), ``split`` where the corpus has splits, ``role`` where speakers have roles;
* ``empty_text`` (bool): rows whose source text is empty are **kept** and flagged, never dropped;
* dataset-specific human labels and outcomes; outcomes are repeated on every row of the conversation or of the
  speaker they belong to. Multi-valued labels are ``;``-joined strings.

``data_dir`` is the shared data root (holding ``esconv/``, ``casino/``, …) or the dataset's own folder; ``None``
means :func:`default_data_dir` (``$RECIPROCITY_DATA``, else ``../shared/data`` relative to the working directory).
A missing file raises :class:`FileNotFoundError` with its exact path; a malformed one raises
:class:`reciprocity.errors.InputError` naming the file, the line/row (or dialogue) and the field.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pandas as pd

from ._common import DATA_ENV_VAR, EMPTY_TEXT, LABEL_SEPARATOR, default_data_dir
from .casino import load_casino
from .dailydialog import load_dailydialog
from .esconv import load_esconv
from .persuasionforgood import load_persuasionforgood
from .topical_chat import load_topical_chat

#: Registry: dataset name → loader.
DATASETS: dict[str, Callable[..., pd.DataFrame]] = {
    "esconv": load_esconv,
    "casino": load_casino,
    "persuasionforgood": load_persuasionforgood,
    "topical_chat": load_topical_chat,
    "dailydialog": load_dailydialog,
}

_ALIASES = {
    "persuasion_for_good": "persuasionforgood",
    "p4g": "persuasionforgood",
    "topicalchat": "topical_chat",
    "daily_dialog": "dailydialog",
}


def _canonical(name: str) -> str:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    return _ALIASES.get(key, key)


def load_dataset(name: str, data_dir: str | os.PathLike[str] | None = None, **options) -> pd.DataFrame:
    """Load a dataset by registry name (case-insensitive; ``-`` and ``_`` interchangeable), passing ``options`` on."""
    key = _canonical(name)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}")
    return DATASETS[key](data_dir, **options)


__all__ = [
    "DATASETS",
    "DATA_ENV_VAR",
    "EMPTY_TEXT",
    "LABEL_SEPARATOR",
    "default_data_dir",
    "load_casino",
    "load_dailydialog",
    "load_dataset",
    "load_esconv",
    "load_persuasionforgood",
    "load_topical_chat",
]
