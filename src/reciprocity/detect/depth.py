"""Depth (0..3) and layer (0..3) from disclosure probabilities, learned intimacy and a core-layer lexicon.

Per sentence:

    p_disc = max(p_info, p_emo)                              # P(anything is disclosed)
    i~     = clip((intimacy - q_lo) / (q_hi - q_lo), 0, 1)   # learned intimacy, rescaled by its 5th/95th
                                                             # percentiles on the OffMyChest sentences
    core   = 1 if the sentence matches the core-layer lexicon else 0
    g      = max(w_int * i~ + w_emo * p_emo, g_core * core)  # closeness to the core, in [0, 1]
    d|disc = 1 + 2 * g                                       # depth given that it is a disclosure, in [1, 3]
    depth  = p_disc * (1 + 2 * g)                            # expected depth E[d] = P(disc) * E[d | disc], [0, 3]

Per utterance: ``depth`` = max over its sentences; ``layer`` = 0 when no sentence discloses, otherwise
``clip(floor(d|disc + 0.5), 1, 3)`` for the deepest disclosing sentence (the layer *given* that it discloses, so
that a confidently-detected but shallow fact is layer 1 and an uncertain one about a diagnosis is still layer 3).

``intimacy`` is a ridge regression on hashed n-grams trained on Pei & Jurgens (2020) question intimacy and
SemEval-2023 English tweet intimacy, each z-scored within its source (so "is a question" or "is a tweet" carries no
intimacy). The core lexicon operationalises THEORY §2's core layer (health and mental health, sexuality, trauma
and loss, fears, insecurity, shame, secrets); it sets a floor ``g_core = 0.75`` (d|disc = 2.5 -> layer 3) because
the intimacy corpora contain few first-person statements of this kind. ``w_int = 0.7, w_emo = 0.3`` are design
choices, not fitted parameters.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .lexmatch import ColumnMatcher
from .topics import _group_by_first_char

W_INTIMACY = 0.7
W_EMOTION = 0.3
G_CORE = 0.75

#: Core layer (THEORY §2): fears, insecurities, health & mental health, sexuality, trauma, shame, secrets.
CORE_LEXICON: list[str] = [
    # health and mental health
    "diagnos(?:ed|is|es)", "depress(?:ion|ed|ive)", "anxiety", "panic attacks?", "bipolar", "ptsd", "ocd", "adhd",
    "autis(?:m|tic)", "schizo\\w*", "eating disorders?", "anorexi\\w*", "bulimi\\w*", "suicid(?:e|al)",
    "kill(?:ing)? myself", "end(?:ing)? my life", "self[- ]harm\\w*", "cutting myself", "overdos\\w*", "cancer",
    "tumou?rs?", "chemo\\w*", "terminal(?:ly)?(?: ill)?", "hiv", "stds?", "miscarr\\w*", "infertil\\w*",
    "abortion", "disab(?:led|ility)", "chronic (?:pain|illness)", "addict(?:ed|ion)", "alcoholi(?:c|sm)",
    "relapse[ds]?", "rehab", "psychiatr\\w*", "antidepressants?", "hospitali[sz]ed", "mental (?:health|illness)",
    "breakdown", "seizures?", "dying",
    # sexuality
    "gay", "lesbian", "bisexual", "queer", "trans(?:gender)?", "came out", "coming out", "in the closet",
    "closeted", "virgin(?:ity)?", "my sex life", "sexual(?:ly)? (?:abuse[ds]?|assault(?:ed)?)", "sexuality",
    "erectile", "impoten\\w*",
    # trauma and loss
    "abuse[ds]?", "abusive", "raped?", "molest\\w*", "assault(?:ed)?", "traum(?:a|atic|atized|atised)",
    "groomed", "neglect(?:ed)?", "domestic violence", "(?:beat|hit|hurt) me", "bullied", "passed away", "died",
    "funeral", "lost my (?:mom|mum|dad|mother|father|son|daughter|baby|wife|husband|brother|sister|best friend)",
    "grie(?:f|ving)", "widow(?:ed|er)?", "cheated on me", "left me for",
    # fears, insecurity, shame, secrets
    "terrified", "afraid", "scared", "fears?", "insecur(?:e|ity|ities)", "ashamed", "shame(?:ful)?",
    "humiliat\\w*", "worthless", "hate myself", "a failure", "not good enough", "unlovable", "lonely",
    "loneliness", "guilt(?:y)?", "never told (?:anyone|anybody|a soul|my)", "no ?one knows", "nobody knows",
    "my secret", "confess\\w*", "heartbroken", "devastated", "hopeless", "can't stop crying", "sobbing",
]

_CORE = re.compile(r"(?<![\w'])(?:" + _group_by_first_char(CORE_LEXICON) + r")(?!\w)")


def core_hits(sentences: pd.Series) -> np.ndarray:
    """Boolean array: sentence matches the core-layer lexicon (one whole-column regex test)."""
    return ColumnMatcher(sentences.fillna("").astype(str).str.lower()).contains(_CORE)


def rescale_intimacy(raw: np.ndarray, q_lo: float, q_hi: float) -> np.ndarray:
    """``clip((raw - q_lo) / (q_hi - q_lo), 0, 1)``."""
    span = max(q_hi - q_lo, 1e-9)
    return np.clip((np.asarray(raw, dtype=np.float64) - q_lo) / span, 0.0, 1.0)


def closeness(
    p_emo: np.ndarray, intimacy01: np.ndarray, core: np.ndarray,
    w_int: float = W_INTIMACY, w_emo: float = W_EMOTION, g_core: float = G_CORE,
) -> np.ndarray:
    """``g = max(w_int * i~ + w_emo * p_emo, g_core * core)`` in [0, 1]."""
    g = np.clip(w_int * np.asarray(intimacy01) + w_emo * np.asarray(p_emo), 0.0, 1.0)
    return np.maximum(g, g_core * np.asarray(core, dtype=np.float64))


def expected_depth(p_info: np.ndarray, p_emo: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``max(p_info, p_emo) * (1 + 2 g)`` in [0, 3]."""
    return np.clip(np.maximum(p_info, p_emo) * (1.0 + 2.0 * np.asarray(g)), 0.0, 3.0)


def layer_from_conditional_depth(cond_depth: np.ndarray, disclosure: np.ndarray) -> np.ndarray:
    """0 when not a disclosure, else ``clip(floor(d|disc + 0.5), 1, 3)`` (round half up)."""
    layer = np.clip(np.floor(np.asarray(cond_depth, dtype=np.float64) + 0.5), 1, 3).astype(np.int64)
    return np.where(np.asarray(disclosure, dtype=bool), layer, 0).astype(np.int64)


# --------------------------------------------------------------------------------------------------------------
# Learned depth (format 2): a continuation-ratio ordinal model over a few interpretable features + hashed n-grams.
# --------------------------------------------------------------------------------------------------------------

_FIRST_SING = re.compile(r"(?<![\w'])(?:i|i'm|im|i've|ive|i'd|i'll|me|my|mine|myself)(?![\w'])")
_FIRST_PLUR = re.compile(r"(?<![\w'])(?:we|we're|we've|our|ours|us|ourselves)(?![\w'])")
_SECOND = re.compile(r"(?<![\w'])(?:you|you're|youre|your|yours|u|ur)(?![\w'])")
_THIRD = re.compile(r"(?<![\w'])(?:he|she|he's|she's|they|they're|his|her|him|them|their)(?![\w'])")
_OWN_FAMILY = re.compile(
    r"(?<![\w'])(?:my|our) (?:mum|mom|mother|dad|father|parents?|sisters?|brothers?|siblings?|grandma|grandmother|"
    r"grandpa|grandfather|grandparents?|nan|gran|husband|wife|partner|kids?|children|sons?|daughters?|family|"
    r"boyfriend|girlfriend|fianc[eé]e?|ex)(?!\w)"
)
#: Peripheral layer (THEORY §2 layer 1): tastes, routines, biographical facts stated plainly.
PERIPHERAL_LEXICON: list[str] = [
    "i (?:really |absolutely |just )?(?:love|like|enjoy|adore|hate|prefer|can't stand|cant stand|don't like|dont like)",
    "i'?m (?:really )?(?:into|a fan of|obsessed with)", "my favou?rite", "every (?:day|morning|night|evening|week|weekend|"
    "sunday|monday|saturday|friday|summer|year)", "usually", "on weekends", "i (?:always|often|never|sometimes) ",
    "i (?:live|grew up|was born|moved)", "i'?m from", "i'?m (?:a|an) ", "i am (?:a|an) ", "i work", "i'?m studying",
    "i study", "i have (?:a|an|two|three|four|\\d)", "i'?ve got (?:a|an|two|three|\\d)", "i own", "i bought",
    "years? old", "i'?m \\d{1,2}", "i speak", "i play", "i go to", "i drive", "my birthday", "i'?m (?:left|right)[- ]handed",
]
#: Intermediate-layer markers (THEORY §2 layer 2): opinions, attitudes, experiences, self-assessments, mild feelings.
INTERMEDIATE_LEXICON: list[str] = [
    "i think", "i believe", "i feel like", "in my opinion", "i reckon", "i guess", "honestly", "tbh", "should(?:n't)?",
    "i'?m (?:terrible|bad|awful|rubbish|hopeless|good|great) (?:at|with)", "i'?m too", "i wish", "i regret",
    "i (?:was|am|get|got|feel|felt) (?:a bit |kind of |quite |so |really |pretty )?(?:annoyed|nervous|proud|relieved|"
    "embarrassed|frustrated|anxious|worried|jealous|guilty|lonely|stressed|upset|sad|angry|happy|excited|disappointed)",
    "(?:don't|dont|haven't|havent) (?:really )?(?:talk|spoken|speak)", "since the", "we (?:fought|argue|argued|fell out)",
    "i (?:used to|never|finally|realised|realized|learned|learnt)", "i'?m (?:not sure|worried|scared)",
]

_PERIPHERAL = re.compile(r"(?<![\w'])(?:" + "|".join(PERIPHERAL_LEXICON) + r")")
_INTERMEDIATE = re.compile(r"(?<![\w'])(?:" + "|".join(INTERMEDIATE_LEXICON) + r")")

#: Names of the dense depth features, in column order.
DEPTH_FEATURES: tuple[str, ...] = (
    "p_info", "p_emo", "p_disc", "intimacy", "core", "first_person", "first_plural", "second_person",
    "third_person_only", "own_family", "question", "peripheral", "intermediate", "n_topics", "log_words",
)


def depth_features(
    sentences: pd.Series, p_info: np.ndarray, p_emo: np.ndarray, intimacy01: np.ndarray, n_topic_hits: np.ndarray | None = None
) -> np.ndarray:
    """Dense, interpretable per-sentence features for the learned depth model, shape ``(n, len(DEPTH_FEATURES))``.

    ``p_info``/``p_emo`` are the calibrated disclosure probabilities, ``intimacy01`` the rescaled intimacy in [0, 1]
    (any tier may pass its own); the rest are yes/no regex tests of the lower-cased sentences, one whole-column
    pass per cue (:class:`~.lexmatch.ColumnMatcher`). ``n_topic_hits`` (topic lexicon areas matched) is computed
    from :func:`reciprocity.detect.topics.topic_matrix` when ``None``.
    """
    s = sentences.fillna("").astype(str).str.lower().reset_index(drop=True)
    n = len(s)
    if n == 0:
        return np.zeros((0, len(DEPTH_FEATURES)))
    m = ColumnMatcher(s)
    if n_topic_hits is None:
        from .topics import topic_matrix

        n_topic_hits = topic_matrix(m).sum(axis=1)
    fs, fp = m.contains(_FIRST_SING), m.contains(_FIRST_PLUR)
    third = m.contains(_THIRD) & ~fs & ~fp
    p_info, p_emo = np.asarray(p_info, float), np.asarray(p_emo, float)
    cols = [
        p_info, p_emo, np.maximum(p_info, p_emo), np.asarray(intimacy01, float), m.contains(_CORE).astype(float),
        fs.astype(float), fp.astype(float), m.contains(_SECOND).astype(float), third.astype(float),
        m.contains(_OWN_FAMILY).astype(float),
        s.str.rstrip().str.endswith("?").to_numpy(dtype=float),
        m.contains(_PERIPHERAL).astype(float),
        m.contains(_INTERMEDIATE).astype(float),
        np.minimum(np.asarray(n_topic_hits, float), 4.0) / 4.0,
        np.log1p(s.str.split().str.len().fillna(0).to_numpy(dtype=float)) / np.log(40.0),
    ]
    return np.column_stack(cols).astype(np.float64)


def ordinal_depth(p_disc: np.ndarray, p_ge2: np.ndarray, p_ge3: np.ndarray) -> np.ndarray:
    """Expected layer of a continuation-ratio model: ``P(d>=1) + P(d>=2) + P(d>=3)``
    ``= p_disc * (1 + p_ge2 * (1 + p_ge3))`` where ``p_ge2 = P(d>=2 | d>=1)``, ``p_ge3 = P(d=3 | d>=2)``; in [0, 3]."""
    p1, p2, p3 = (np.clip(np.asarray(a, dtype=np.float64), 0.0, 1.0) for a in (p_disc, p_ge2, p_ge3))
    return p1 * (1.0 + p2 * (1.0 + p3))


def ordinal_layer(p_disc: np.ndarray, p_ge2: np.ndarray, p_ge3: np.ndarray, disclosure: np.ndarray | None = None) -> np.ndarray:
    """Sequential decision: 0 unless it discloses (``disclosure`` if given, else ``p_disc >= 0.5``); then 1 unless
    ``p_ge2 >= 0.5``; then 2 unless ``p_ge3 >= 0.5``; else 3."""
    disc = np.asarray(p_disc) >= 0.5 if disclosure is None else np.asarray(disclosure, dtype=bool)
    ge2 = np.asarray(p_ge2) >= 0.5
    ge3 = np.asarray(p_ge3) >= 0.5
    return np.where(disc, 1 + ge2 * (1 + ge3), 0).astype(np.int64)
