"""Turn pairs and the integer codes the measures share."""

from __future__ import annotations

import numpy as np
import pytest

from reciprocity.measure.pairs import sorted_codes


@pytest.mark.parametrize("layout", ["blocks", "shuffled", "repeated_block", "one_row"])
def test_sorted_codes_equal_numpy_unique(layout: str) -> None:
    rng = np.random.default_rng(4)
    ids = np.array([f"c{i:04d}" for i in rng.permutation(300)], dtype=object)
    values = np.repeat(ids, rng.integers(1, 9, size=len(ids)))          # contiguous runs, appearance order unsorted
    if layout == "shuffled":
        values = values[rng.permutation(len(values))]
    elif layout == "repeated_block":                                    # one id in two runs: not contiguous blocks
        values = np.r_[values, values[:3]]
    elif layout == "one_row":
        values = values[:1]
    uniques, codes = sorted_codes(values)
    expected_uniques, expected_codes = np.unique(values.astype(str), return_inverse=True)
    assert uniques.tolist() == expected_uniques.tolist()
    assert np.array_equal(codes, expected_codes.reshape(-1)) and codes.dtype == np.int64
