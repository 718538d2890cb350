"""Text normalisation (reciprocity.detect.text.normalise): the Arrow path equals the pandas path it replaced."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reciprocity.detect.text import _normalise_pandas, normalise

PIECES = ["<U+2019>", "<U+0092>", "<U+1F614>", "<U+D83D>", "<U+zz>", "&amp;", "&amp;gt;", "&gt;", "&lt;", "\u2018",
          "\u201c", "`", "\u00b4", " ", "  ", "\t", "\f", "\v", "\x85", "\u2028", "\u200b", "\u00a0", "\u3000",
          "\x1c", "\n", "I'm", "sad", "é", "😀", "-", "."]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=10).map("".join), max_size=20),
       st.lists(st.text(max_size=15), max_size=5))
def test_arrow_normalise_equals_pandas_normalise(pieces, free_text):
    texts = pd.Series(pieces + free_text, index=range(100, 100 + len(pieces) + len(free_text)), name="text", dtype=object)
    fast, reference = normalise(texts), _normalise_pandas(texts)
    pd.testing.assert_series_equal(fast, reference)


def test_missing_values_and_non_strings_keep_the_pandas_behaviour():
    texts = pd.Series(["  a&amp;b  ", None, 3], dtype=object)
    out = normalise(texts)
    assert out.iloc[0] == "a&b" and out.iloc[1] is None and pd.isna(out.iloc[2])
