"""Measurement: disclosure, depth, breadth, balance and reciprocity over coded utterance tables."""

from reciprocity.measure.codes import prepare_codes
from reciprocity.measure.pairs import turn_pairs
from reciprocity.measure.penetration import conversation_profile, speaker_profile, trajectories
from reciprocity.measure.reciprocity import reciprocity_tests

__all__ = [
    "conversation_profile",
    "prepare_codes",
    "reciprocity_tests",
    "speaker_profile",
    "trajectories",
    "turn_pairs",
]
