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
    """Boolean array: sentence matches the core-layer lexicon (vectorised ``str.contains``)."""
    s = sentences.fillna("").astype(str).str.lower()
    return s.str.contains(_CORE, regex=True).to_numpy(dtype=bool) if len(s) else np.zeros(0, dtype=bool)


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
