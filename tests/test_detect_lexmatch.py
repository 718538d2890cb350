"""Whole-column regex tests (reciprocity.detect.lexmatch) give exactly Python ``re``'s answers."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reciprocity.detect import depth
from reciprocity.detect.lexmatch import ColumnMatcher, to_re2
from reciprocity.detect.topics import _PATTERNS
from reciprocity.schema import TOPICS

SHIPPED = [_PATTERNS[t] for t in TOPICS] + [
    depth._CORE, depth._FIRST_SING, depth._FIRST_PLUR, depth._SECOND, depth._THIRD, depth._OWN_FAMILY,
    depth._PERIPHERAL, depth._INTERMEDIATE,
]
# pieces that exercise the lexicons' edges: boundaries, apostrophes, digits, Unicode word characters and spaces
PIECES = [
    "i", "i'm", "im", "my", "me", "we", "you", "he", "she", "they", "mum", "wife", "broke", "up", "broke up",
    "bucks", "5", "3k", "$", "£", " ", "  ", "\u00a0", "\u2003", "\x1c", "\t", "'", "-", ".", "?", "!", "é", "ï",
    "２", "\u0663", "_", "😀", "🏳️‍🌈", "ß", "dying", "scared", "depressed", "gay", "nurse", "years", "old", "23",
    "love", "hiking", "church", "money", "mom", "dad", "sister", "work", "school", "i think", "i live in",
]


def python_contains(strings: pd.Series, pattern: re.Pattern[str]) -> np.ndarray:
    return np.array([pattern.search(s) is not None for s in strings], dtype=bool)


def test_every_shipped_pattern_runs_on_re2():
    translated = {p.pattern: to_re2(p.pattern) for p in SHIPPED}
    assert all(re2 is not None for re2, _ in translated.values())
    inexact = [p for p, (_, exact) in translated.items() if not exact]
    assert inexact == [_PATTERNS["money_property"].pattern]  # "broke(?! up)": RE2 has no lookahead


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=8).map(" ".join), min_size=1, max_size=40))
def test_column_matcher_equals_python_re(texts):
    strings = pd.Series(texts, dtype=object)
    matcher = ColumnMatcher(strings)
    for pattern in SHIPPED:
        np.testing.assert_array_equal(matcher.contains(pattern), python_contains(strings, pattern), err_msg=pattern.pattern[:80])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=30))
def test_column_matcher_equals_python_re_on_any_text(texts):
    strings = pd.Series(texts, dtype=object)
    matcher = ColumnMatcher(strings)
    for pattern in SHIPPED + [re.compile(r"a\s+b"), re.compile(r"\d+\b"), re.compile(r"[\s,]x")]:
        np.testing.assert_array_equal(matcher.contains(pattern), python_contains(strings, pattern))


def test_translation_keeps_pythons_ascii_whitespace_inside_and_outside_classes():
    re2, exact = to_re2(r"a\s[\s,]b")
    assert exact and re2 == r"a[\t-\r\x1c- ][\t-\r\x1c- ,]b"
    strings = pd.Series(["a\x0b\x1cb", "a ,b", "a\x1f b", "ab", "a\u2003 b"])  # \v and \x1c count as space in Python
    pattern = re.compile(r"a\s[\s,]b")
    np.testing.assert_array_equal(ColumnMatcher(strings).contains(pattern), python_contains(strings, pattern))


def test_pattern_re2_cannot_compile_falls_back_to_python():
    pattern = re.compile(r"(\w)\1")  # a back-reference
    assert to_re2(pattern.pattern) == (None, False)
    strings = pd.Series(["hello", "world", "aa", ""])
    np.testing.assert_array_equal(ColumnMatcher(strings).contains(pattern), [True, False, True, False])


def test_empty_column():
    assert ColumnMatcher(pd.Series([], dtype=object)).contains(depth._CORE).shape == (0,)
