"""reciprocity: measure, analyse and model reciprocal self-disclosure in conversations.

>>> import reciprocity
>>> table = reciprocity.read("examples/conversations.csv")
>>> result = reciprocity.analyze(table)            # runs the bundled detector
>>> result.conversations[["conversation_id", "lagged_matching"]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reciprocity.analyze import Analysis, analyze
from reciprocity.corpus import read, write
from reciprocity.errors import InputError, Problem

# ``reciprocity.detect`` is the detector subpackage, and calling it codes texts or a table
# (``reciprocity.detect(texts, tier=..., n_jobs=...)``, :func:`reciprocity.detect.detect`).
import reciprocity.detect as detect  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd

__version__ = "0.1.0"


def advise(table: "pd.DataFrame", *, use_codes: bool | None = None) -> "pd.DataFrame":
    """Pacing alerts with plain-language suggestions for every conversation of a table.

    Uses the table's own ``disclosure``/``depth`` codes when present (or ``use_codes=True``),
    otherwise runs the detector. One row per alert: conversation_id, speaker, turn, kind,
    severity, evidence, suggestion (see :mod:`reciprocity.advise`).
    """
    from reciprocity.advise import advise as alerts_for
    from reciprocity.corpus import validate
    from reciprocity.measure import prepare_codes

    table = validate(table)
    if use_codes is None:
        use_codes = "disclosure" in table.columns or "depth" in table.columns
    coded = prepare_codes(table) if use_codes else detect.detect(table)
    return alerts_for(coded)


__all__ = ["Analysis", "InputError", "advise", "analyze", "detect", "read", "write"]
