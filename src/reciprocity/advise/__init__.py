"""Advice on disclosure pacing: alerts over coded conversations and next-turn advice for live use.

>>> from reciprocity.advise import advise, live_advice, AlertRules
>>> alerts = advise(result.utterances)                 # one row per alert
>>> print(live_advice(history_of_one_conversation))    # advice for whoever speaks next
"""

from reciprocity.advise.alerts import ALERT_COLUMNS, KINDS, SUGGESTIONS, AlertRules, advise
from reciprocity.advise.live import live_advice

__all__ = ["ALERT_COLUMNS", "KINDS", "SUGGESTIONS", "AlertRules", "advise", "live_advice"]
