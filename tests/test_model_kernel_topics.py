"""The compiled kernel's topic draw: the guide table gives exactly the inverse CDF of a 16-bit uniform."""

from __future__ import annotations

import numpy as np
import pytest

from reciprocity.model.simulate import TOPIC_CDF, available_engines

needs_numba = pytest.mark.skipif("numba" not in available_engines(), reason="numba (extra 'sim') not installed")


@needs_numba
def test_topic_guide_is_the_exact_inverse_cdf():
    from reciprocity.model._kernel import topic_guide

    guide = topic_guide(TOPIC_CDF)
    cdf = TOPIC_CDF.reshape(3, -1)
    u = np.arange(65536, dtype=np.uint32)
    for layer in range(3):
        entry = guide[layer * 256 + (u >> 8)]
        drawn = (entry >> 9) + ((u & 0xFF) >= (entry & 0x1FF))
        # reference: count the float32 CDF values (all but the last) that u / 65536 reaches
        expected = (u[:, None].astype(np.float32) * np.float32(1 / 65536) >= cdf[layer, :-1][None, :]).sum(axis=1)
        np.testing.assert_array_equal(drawn, expected)


@needs_numba
def test_topic_guide_rejects_boundaries_too_close_together():
    from reciprocity.model._kernel import topic_guide

    weights = np.ones((3, 13))
    weights[:, 5] = 1e-4          # two CDF steps within 1/256
    cdf = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1).astype(np.float32).reshape(-1)
    with pytest.raises(ValueError, match="guide"):
        topic_guide(cdf)
