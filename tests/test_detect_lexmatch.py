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


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(max_codepoint=127), max_size=30), min_size=1, max_size=30))
def test_column_matcher_equals_python_re_on_ascii_text(texts):  # the rows whose answer comes from RE2
    strings = pd.Series(texts, dtype=object)
    matcher = ColumnMatcher(strings)
    for pattern in SHIPPED + EDGE_CASES:
        np.testing.assert_array_equal(matcher.contains(pattern), python_contains(strings, pattern), err_msg=pattern.pattern)


# constructs RE2 reads differently from Python: mid-pattern boundaries, $ before a final newline, \S and \v,
# {,n}, a ] first in a class, a class holding "(?=", escapes, inline and compile flags, back-references
EDGE_CASES = [re.compile(p, f) for p, f in [
    (r"foo(?![\w'])\s+bar", 0), (r"a(?<![\w'])b", 0), (r"(?<![\w'])a(?!\w)", 0), (r"foo$", 0), (r"x{,2}y", 0),
    (r"[]\s]x", 0), (r"[(?=]", 0), (r"\\(?=a)", 0), (r"a\S", 0), (r"a\sb", 0), (r"(?m)a$", 0), (r"(?i)FOO", 0),
    (r"FOO", re.IGNORECASE), (r"^b", re.MULTILINE), (r"(\w)\1", 0), (r"\bi\b", 0), (r"\d+k\b", 0),
]]
EDGE_TEXTS = ["foo bar", "foo\x0bbar", "a b", "ab", "foo", "foo\n", "foo\n\n", "xy", "xxxy", "xx{,2}y", "]x", " x",
              "(", "\\a", "a\x0b", "a\x1c b", "a\tb", "a\n", "FOO", "foo!", "a\nb", "hello", "i am", "5k!", "i'm"]


def test_constructs_re2_reads_differently_still_get_pythons_answer():
    strings = pd.Series(EDGE_TEXTS + [t + " é" for t in EDGE_TEXTS])
    matcher = ColumnMatcher(strings)
    for pattern in EDGE_CASES:
        np.testing.assert_array_equal(matcher.contains(pattern), python_contains(strings, pattern), err_msg=pattern.pattern)
    assert to_re2(r"x{,2}") == (None, False) and to_re2("FOO", re.IGNORECASE | re.UNICODE) == (None, False)
    assert to_re2(r"a(?<![\w'])b")[1] is False  # a boundary inside the pattern is dropped, not translated


def test_lone_surrogates_fall_back_to_python():
    strings = pd.Series(["\ud83d i am scared", "fine"])
    np.testing.assert_array_equal(ColumnMatcher(strings).contains(depth._CORE), [True, False])


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
