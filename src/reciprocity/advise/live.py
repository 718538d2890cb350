"""Next-turn advice for an ongoing conversation (the basis of a live advisor).

:func:`live_advice` reads the coded history of one conversation and returns one short piece of plain-language
advice for whoever speaks next (by default: in a dyad, the partner of the last speaker). It checks, in this order,
and answers with the first that applies (``recent`` = within the last ``AlertRules.imbalance_window`` utterances):

1. the advisee made a *premature deep disclosure* recently → slow down;
2. the advisee has an *unreciprocated run* in progress (``run_length`` disclosures, partner silent for
   ``partner_turns`` turns) → give them room;
3. a recent *sustained imbalance* with the advisee as the dominant discloser → invite them in;
4. the partner made a premature deep disclosure recently → acknowledge it, don't pry, no need to match fully;
5. the partner disclosed since the advisee last did → match their depth (same layer, not deeper);
6. a recent *depenetration* of the dyad → check in, keep it light;
7. otherwise advice by the dyad's current penetration stage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reciprocity.advise.alerts import (
    AlertRules,
    _Ordered,
    depenetration_alerts,
    imbalance,
    premature,
    prepare,
    unreciprocated,
)
from reciprocity.measure.stages import stages
from reciprocity.schema import CONVERSATION, LAYER_NAMES

STAGE_ADVICE = {
    "orientation": "It's early: keep it light. Share a small, easy fact about yourself and see whether they match it.",
    "exploratory_affective": (
        "Things are opening up. It's fine to go one layer deeper — an opinion or an experience — if they keep "
        "matching you."
    ),
    "affective": "You're in a close exchange: keep matching each other's depth and listen as much as you share.",
    "stable": (
        "The exchange is deep and steady. Keep it mutual: respond to what they share before adding your own."
    ),
}


def live_advice(history: pd.DataFrame, speaker: str | None = None, rules: AlertRules = AlertRules()) -> str:
    """Advice for the next turn of the ongoing conversation in ``history`` (coded rows of one conversation).

    ``history`` has ``speaker`` and ``disclosure`` and/or ``depth`` (plus optional ``layer``, ``topics``,
    ``turn``, ``conversation_id``). ``speaker`` names the advisee; by default the next speaker: the other
    speaker of a dyad (or ``"you"`` when only one person has spoken so far). Returns one line of text:
    ``"<advisee>: <advice> (<evidence>)"``.
    """
    if len(history) == 0:
        return "Start light: a friendly remark or a small fact about yourself, and see how they respond."
    history = history.copy()
    if CONVERSATION not in history.columns:
        history[CONVERSATION] = "live"
    if history[CONVERSATION].nunique() > 1:
        raise ValueError("live_advice needs the history of one conversation; got "
                         f"{history[CONVERSATION].nunique()} conversation ids")
    history = prepare(history).reset_index(drop=True)
    o = _Ordered(history)
    names = pd.unique(o.speaker_names)
    last = o.speaker_names[-1]
    if speaker is None:
        others = [s for s in names if s != last]
        speaker = others[0] if len(others) == 1 else ("you" if not others else others[-1])
    recent_turn = o.turn[max(0, o.n - rules.imbalance_window)]

    def recent(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["turn"] >= recent_turn] if len(frame) else frame

    early = premature(o, rules, use_length=False)
    runs = unreciprocated(o, rules)
    imbalanced = recent(imbalance(o, rules))
    depenetration = recent(depenetration_alerts(history, rules))
    early = recent(early)

    mine = early[early["speaker"] == speaker] if len(early) else early
    if len(mine):
        return f"{speaker}: Slow down — you went deep very early. Step back to lighter topics and let trust build; " \
               f"don't press them to respond in kind. ({mine['evidence'].iloc[-1]})"

    # Open unreciprocated run of the advisee: the last disclosures of the conversation are theirs.
    disclosed_rows = np.flatnonzero(o.disclosed)
    if len(runs) and len(disclosed_rows):
        last_discloser = o.speaker_names[disclosed_rows[-1]]
        own_runs = runs[runs["speaker"] == speaker]
        if last_discloser == speaker and len(own_runs) and own_runs["_row"].iloc[-1] >= _run_start(o, disclosed_rows):
            return f"{speaker}: Slow down and give them room — ask an open question about them and wait for them " \
                   f"to share before you go deeper. ({own_runs['evidence'].iloc[-1]})"

    if len(imbalanced) and imbalanced["speaker"].iloc[-1] == speaker:
        return f"{speaker}: You have been doing most of the sharing. Pause and invite them in with a question. " \
               f"({imbalanced['evidence'].iloc[-1]})"

    theirs = early[early["speaker"] != speaker] if len(early) else early
    if len(theirs):
        return f"{speaker}: They shared something very personal early on. Acknowledge it warmly and don't pry; " \
               f"share at a level you are comfortable with — you don't have to match it fully. " \
               f"({theirs['evidence'].iloc[-1]})"

    # Partner disclosures since the advisee's last disclosure → match their depth.
    is_me = o.speaker_names == speaker
    my_last = np.flatnonzero(is_me & o.disclosed)
    since = my_last[-1] + 1 if len(my_last) else 0
    owed = np.flatnonzero(~is_me[since:] & o.disclosed[since:]) + since
    if len(owed):
        layer = int(o.layer[owed].max())
        return f"{speaker}: They have shared something (up to layer {layer} '{LAYER_NAMES[layer]}') that you " \
               f"haven't returned yet. Match their depth: share something of similar weight about yourself, " \
               f"not deeper. " \
               f"({len(owed)} unreturned disclosure{'s' if len(owed) > 1 else ''} since turn {o.turn[owed[0]]})"

    if len(depenetration):
        return f"{speaker}: The conversation is cooling off. Check in, go back to a topic they engaged with and " \
               f"keep it light. ({depenetration['evidence'].iloc[-1]})"

    stage = str(stages(history, rules.stage_rules)["stage"].iloc[-1])
    return f"{speaker}: {STAGE_ADVICE[stage]} (stage: {stage.replace('_', ' ')})"


def _run_start(o: _Ordered, disclosed_rows: np.ndarray) -> int:
    """Row of the first disclosure of the conversation's final run of same-speaker disclosures."""
    spk = o.spk[disclosed_rows]
    breaks = np.flatnonzero(spk != spk[-1])
    return int(disclosed_rows[breaks[-1] + 1]) if len(breaks) else int(disclosed_rows[0])


__all__ = ["live_advice"]
