"""Measurement: disclosure, depth, breadth, balance and reciprocity over coded utterance tables."""

from reciprocity.measure.codes import prepare_codes
from reciprocity.measure.groups import SRMResult, pairwise_reciprocity, round_robin_scores, social_relations
from reciprocity.measure.multilevel import MultilevelResult, dyad_slopes, lag_design, lagged_multilevel
from reciprocity.measure.pairs import turn_pairs
from reciprocity.measure.penetration import conversation_profile, speaker_profile, trajectories
from reciprocity.measure.reciprocity import reciprocity_tests
from reciprocity.measure.sequential import LagSequential, lag_sequential, yules_q

__all__ = [
    "LagSequential",
    "MultilevelResult",
    "SRMResult",
    "dyad_slopes",
    "lag_design",
    "lag_sequential",
    "lagged_multilevel",
    "pairwise_reciprocity",
    "round_robin_scores",
    "social_relations",
    "yules_q",
    "conversation_profile",
    "prepare_codes",
    "reciprocity_tests",
    "speaker_profile",
    "trajectories",
    "turn_pairs",
]
