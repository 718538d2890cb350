"""Everything the report shows, as one compact JSON-ready payload.

The report page embeds this payload once and draws every figure from it in the browser, so the same figure
code serves the page, the conversation browser and the static export. Per-utterance data are stored
column-wise (small integers where possible) so that 10,000 conversations stay within a few megabytes.

Optional pieces — stages, alerts, latent trust, lag-sequential tables, dyad CIs, group reciprocity — are taken
from the :class:`~reciprocity.analyze.Analysis` when it carries them, otherwise computed here with the
toolkit's functions when those are importable, otherwise reported as unavailable (with the reason). Nothing
missing makes the report fail.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reciprocity.schema import CONVERSATION, LAYER_NAMES, SPEAKER, TEXT, TOPICS

if TYPE_CHECKING:
    from reciprocity.analyze import Analysis

#: Characters of text kept per utterance (before the corpus-wide budget below is applied).
MAX_TEXT_CHARS = 280
#: Total characters of utterance text embedded in one report; longer corpora get shorter excerpts.
TEXT_BUDGET_CHARS = 9_000_000
#: Shortest excerpt kept when the budget bites.
MIN_TEXT_CHARS = 40
#: A disclosure counts as returned when another speaker discloses within this many following turns.
RETURN_WINDOW = 3
#: Sector for disclosures that carry no topic code (e.g. hand codes without topics).
UNLABELLED = "unlabelled"
#: Latent trust (particle filter, ~1 ms per utterance) is estimated for the first conversations up to this many
#: utterances in all.
TRUST_MAX_UTTERANCES = 3000
TRUST_PARTICLES = 1000
#: Dyads listed by name in the forest plot; more are drawn as a ranked (caterpillar) plot.
FOREST_MAX_LABELLED = 40

TOPIC_LABELS = {
    "religion": "religion",
    "marriage_family": "marriage & family",
    "love_dating_sex": "love, dating & sex",
    "parental_family": "parental family",
    "physical_condition_appearance": "body & health",
    "money_property": "money & property",
    "politics_social_issues": "politics & society",
    "emotions": "emotions",
    "interests_hobbies_habits": "interests & hobbies",
    "relations_with_others": "relations with others",
    "attitudes_values": "attitudes & values",
    "school_work": "school & work",
    "biographical": "biographical",
    UNLABELLED: "no topic coded",
}


# ---------------------------------------------------------------------------------------------------- helpers
def _num(value: Any, digits: int = 3) -> float | int | None:
    """A JSON number rounded to ``digits``; None for NaN/None/inf."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    rounded = round(number, digits)
    return int(rounded) if rounded == int(rounded) and abs(rounded) < 1e15 else rounded


def _column(values: Any, digits: int = 3) -> list:
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return []
    rounded = np.round(array, digits)
    out = rounded.astype(object)
    out[~np.isfinite(rounded)] = None
    integral = np.isfinite(rounded) & (rounded == np.round(rounded))
    out[integral] = rounded[integral].astype(np.int64)
    return out.tolist()


def _plain(value: Any) -> Any:
    """JSON-ready copy of nested dicts/lists/numpy/pandas values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _num(value, 4)
    if isinstance(value, pd.DataFrame):
        return _table(value)
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _table(frame: pd.DataFrame, max_rows: int = 200) -> dict:
    """A small table as {columns, rows} (numbers rounded)."""
    frame = frame.head(max_rows)
    rows = []
    for record in frame.itertuples(index=False):
        rows.append([_plain(v) for v in record])
    return {"columns": [str(c) for c in frame.columns], "rows": rows}


def _attribute(analysis: Any, *names: str) -> Any:
    """The first attribute of ``analysis`` (or key of its summary) that exists and is not None."""
    for name in names:
        value = getattr(analysis, name, None)
        if value is not None:
            return value
    return None


def _topic_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [t for t in value.split(";") if t]
    if isinstance(value, float) and math.isnan(value):
        return []
    try:
        return [str(t) for t in value if t is not None and str(t)]
    except TypeError:
        return []


# ---------------------------------------------------------------------------------------------------- order
@dataclasses.dataclass
class _Corpus:
    """The utterance table in report order (conversation of first appearance, then turn)."""

    table: pd.DataFrame          # reordered, index 0..n-1
    original_position: np.ndarray  # table row i came from analysis.utterances position original_position[i]
    conversation_ids: list
    conversation_code: np.ndarray  # per row
    offsets: np.ndarray            # start row of each conversation (+ total at the end)
    speaker_local: np.ndarray      # speaker index within its conversation
    speakers: list[list[str]]      # per conversation, in order of first appearance


def _order(utterances: pd.DataFrame) -> _Corpus:
    table = utterances.reset_index(drop=True)
    conversation_code, conversation_ids = pd.factorize(table[CONVERSATION], sort=False)
    turn = pd.to_numeric(table["turn"], errors="coerce").to_numpy(float) if "turn" in table.columns \
        else np.arange(len(table), dtype=float)
    order = np.lexsort((np.arange(len(table)), np.nan_to_num(turn, nan=np.inf), conversation_code))
    table = table.iloc[order].reset_index(drop=True)
    code = conversation_code[order]
    counts = np.bincount(code, minlength=len(conversation_ids))
    offsets = np.r_[0, np.cumsum(counts)]
    pair_code, pair_names = pd.factorize(pd.MultiIndex.from_arrays([code, table[SPEAKER].astype(str).to_numpy()]))
    # conversations are contiguous, so each conversation's speakers get consecutive codes in order of appearance
    local = pair_code - pair_code[offsets[code]] if len(table) else np.zeros(0, dtype=np.int64)
    speakers: list[list[str]] = [[] for _ in conversation_ids]
    for c, name in pair_names:
        speakers[c].append(str(name))
    return _Corpus(table, order, [str(c) for c in conversation_ids], code, offsets, local, speakers)


# ---------------------------------------------------------------------------------------------------- pieces
def _texts(text: pd.Series) -> tuple[list[str], int]:
    text = text.fillna("").astype(str)
    lengths = text.str.len().to_numpy()
    cap = MAX_TEXT_CHARS
    if lengths.size and np.minimum(lengths, cap).sum() > TEXT_BUDGET_CHARS:
        low, high = MIN_TEXT_CHARS, cap
        while low < high:
            middle = (low + high + 1) // 2
            if np.minimum(lengths, middle).sum() <= TEXT_BUDGET_CHARS:
                low = middle
            else:
                high = middle - 1
        cap = low
    clipped = text.where(lengths <= cap, text.str.slice(0, max(cap - 1, 1)) + "…")
    return clipped.tolist(), cap


def _topic_masks(topics: pd.Series) -> tuple[np.ndarray, list[str]]:
    lists = topics.map(_topic_list)
    exploded = lists.explode().dropna()
    names = list(TOPICS)
    extra = sorted(set(exploded.unique()) - set(names))[: 31 - len(names) - 1]
    names += extra
    index = {name: i for i, name in enumerate(names)}
    codes = exploded.map(index)
    keep = codes.notna()
    bits = (np.int64(1) << codes[keep].astype(np.int64).to_numpy())
    masks = np.zeros(len(topics), dtype=np.int64)
    np.bitwise_or.at(masks, exploded.index.to_numpy()[keep.to_numpy()], bits)
    return masks, names


def _lag_sequential(analysis: Any, corpus: _Corpus) -> dict:
    """Corpus-level layer → next-layer table: counts, p(j|i), adjusted residuals."""
    found = _attribute(analysis, "lag_sequential", "sequential", "transitions")
    frame = None
    source = "analysis"
    if found is not None:
        frame = getattr(found, "corpus", found) if not isinstance(found, dict) else found.get("corpus")
    if isinstance(frame, pd.DataFrame) and "code" in frame.columns:
        frame = frame.loc[frame["code"].astype(str) == "layer"]
    if not isinstance(frame, pd.DataFrame) or frame.empty or not {"from", "to", "count"} <= set(frame.columns):
        frame = None
    if frame is None:
        try:
            from reciprocity.measure import turn_pairs
            pairs = turn_pairs(analysis.utterances.reset_index(drop=True))
            try:
                from reciprocity.measure.sequential import lag_sequential
                frame = lag_sequential(analysis.utterances.reset_index(drop=True), pairs, "layer").corpus
                source = "reciprocity.measure.sequential"
            except ImportError:
                frame = _transition_frame(analysis.utterances["layer"].to_numpy(np.int64), pairs)
                source = "report"
        except Exception as error:  # never let a table stop the report
            return {"available": False, "reason": f"could not compute transitions: {error}"}
    layers = [0, 1, 2, 3]
    pivot = {}
    for column in ("count", "p_transition", "adjusted_residual", "expected"):
        if column in frame.columns:
            table = frame.assign(**{"from": pd.to_numeric(frame["from"]), "to": pd.to_numeric(frame["to"])}).pivot_table(
                index="from", columns="to", values=column, aggfunc="first", dropna=False)
            table = table.reindex(index=layers, columns=layers)
            pivot[column] = [_column(row, 3) for row in table.to_numpy(float)]
    n = int(np.nansum(np.asarray(pivot.get("count", [[0]]), dtype=float)))
    return {"available": n > 0, "reason": None if n else "no exchanges", "source": source, "n": n,
            "layers": [LAYER_NAMES[k] for k in layers], **pivot}


def _transition_frame(layer: np.ndarray, pairs: pd.DataFrame, k: int = 4) -> pd.DataFrame:
    """Fallback lag-sequential table (THEORY.md §3) when reciprocity.measure.sequential is absent."""
    i, j = layer[pairs["prev"].to_numpy()], layer[pairs["next"].to_numpy()]
    x = np.bincount(i * k + j, minlength=k * k).reshape(k, k).astype(float)
    row, col, n = x.sum(1, keepdims=True), x.sum(0, keepdims=True), x.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = row * col / n
        variance = expected * (1 - row / n) * (1 - col / n)
        z = np.where(variance > 0, (x - expected) / np.sqrt(variance), np.nan)
        p = x / row
    grid_i, grid_j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    return pd.DataFrame({"from": grid_i.ravel(), "to": grid_j.ravel(), "count": x.ravel(), "p_transition": p.ravel(),
                         "expected": expected.ravel(), "adjusted_residual": z.ravel()})


def _forest(analysis: Any, conversations: pd.DataFrame, order: list[str]) -> list[dict]:
    """Per-dyad reciprocity estimates with 95% CIs for the forest plot, best-founded statistic first.

    * partner-lag slope β_p per dyad (within-dyad lagged regression, from ``analysis.dyad_reciprocity``) with the
      lagged multilevel model's pooled β_p as the summary;
    * lagged depth matching r per dyad with a Fisher-z CI, tanh(atanh(r) ± 1.96/√(n−3)), n = exchanges (or the
      analysis' own CI columns), with the corpus Fisher-z mean and its bootstrap CI as the summary.
    """
    stats = []
    dyads = _attribute(analysis, "dyad_reciprocity")
    if isinstance(dyads, pd.DataFrame) and {"partner_slope", CONVERSATION}.issubset(dyads.columns) and len(dyads):
        frame = dyads.assign(**{CONVERSATION: dyads[CONVERSATION].astype(str)}).drop_duplicates(CONVERSATION)
        frame = frame.set_index(CONVERSATION).reindex(order)
        pooled = None
        multilevel = (analysis.summary or {}).get("multilevel", {}) if hasattr(analysis, "summary") else {}
        partner = multilevel.get("partner_lag") if isinstance(multilevel, dict) else None
        if isinstance(partner, dict) and partner.get("estimate") is not None:
            pooled = {"est": _num(partner.get("estimate")), "lo": _num(partner.get("ci_low")), "hi": _num(partner.get("ci_high")),
                      "label": "multilevel β_p (pooled)"}
        get = lambda c: frame[c].to_numpy(float) if c in frame.columns else np.full(len(frame), np.nan)  # noqa: E731
        stats.append({"key": "partner_slope", "label": "partner-lag slope β_p",
                      "axis": "partner-lag slope β_p (per depth point)",
                      "method": "within-dyad lagged regression d_t ~ own lag + partner lag; 95% CI from its SE",
                      "est": _column(get("partner_slope")), "lo": _column(get("partner_slope_ci_low")),
                      "hi": _column(get("partner_slope_ci_high")), "p": _column(get("partner_slope_p"), 4),
                      "null": None, "pooled": pooled, "range": None})
    frame = conversations.set_index(conversations[CONVERSATION].astype(str))
    frame = frame[~frame.index.duplicated()].reindex(order)
    if "lagged_matching" in frame.columns:
        r = frame["lagged_matching"].to_numpy(float)
        n = frame["n_exchanges"].to_numpy(float) if "n_exchanges" in frame.columns else np.full(len(frame), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.arctanh(np.clip(r, -0.999, 0.999))
            half = 1.959964 / np.sqrt(n - 3)
            low = np.where(n > 3, np.tanh(z - half), np.nan)
            high = np.where(n > 3, np.tanh(z + half), np.nan)
        headline = ((analysis.summary or {}).get("reciprocity") or {}).get("lagged_matching") or {}
        ci = headline.get("ci95") or [None, None]
        pooled = {"est": _num(headline.get("observed")), "lo": _num(ci[0]), "hi": _num(ci[1]),
                  "label": "corpus mean r (Fisher z)"} if headline.get("observed") is not None else None
        stats.append({"key": "lagged_matching", "label": "lagged depth matching r", "axis": "lagged matching r (−1 … 1)",
                      "method": "Fisher z: tanh(atanh(r) ± 1.96/√(n−3)), n = exchanges",
                      "est": _column(r), "lo": _column(low), "hi": _column(high),
                      "p": _column(frame["lagged_matching_p"].to_numpy(float), 4) if "lagged_matching_p" in frame.columns else None,
                      "null": _column(frame["lagged_matching_null"].to_numpy(float)) if "lagged_matching_null" in frame.columns else None,
                      "pooled": pooled, "range": [-1.05, 1.05]})
    return stats


def _groups(analysis: Any, corpus: _Corpus, table: pd.DataFrame) -> dict:
    """Speaker × speaker reciprocity matrices of multi-party conversations (analysis table, else computed here)."""
    found = _attribute(analysis, "group_reciprocity")
    needed = {CONVERSATION, "speaker", "responder", "conditional_reciprocity"}
    if isinstance(found, pd.DataFrame) and len(found) and needed <= set(found.columns):
        # (conversation id, speaker name) -> (conversation code, local speaker index), one merge per side
        names = pd.DataFrame(
            [(cid, name, c, i) for c, cid in enumerate(corpus.conversation_ids) for i, name in enumerate(corpus.speakers[c])],
            columns=["cid", "name", "c", "local"],
        )
        key = found[CONVERSATION].astype(str)
        actor = pd.DataFrame({"cid": key, "name": found["speaker"].astype(str)}).merge(names, how="left", on=["cid", "name"])
        partner = pd.DataFrame({"cid": key, "name": found["responder"].astype(str)}).merge(names, how="left", on=["cid", "name"])
        known = actor["local"].notna().to_numpy() & partner["local"].notna().to_numpy()
        column = lambda name: found[name].to_numpy(float) if name in found.columns else np.full(len(found), np.nan)  # noqa: E731
        cells = pd.DataFrame({
            "c": actor["c"].to_numpy()[known].astype(np.int64), "i": actor["local"].to_numpy()[known].astype(np.int64),
            "j": partner["local"].to_numpy()[known].astype(np.int64), "n": column("n_exchanges")[known],
            "rec": found["conditional_reciprocity"].to_numpy(float)[known], "m": column("lagged_matching")[known],
        })
        out = _fill_matrices(cells, np.array([len(x) for x in corpus.speakers]), source="analysis")
        if out:
            return out
    try:
        return _group_matrices(corpus, table)
    except Exception:  # a missing matrix must not stop the report
        return {}


def _fill_matrices(cells: pd.DataFrame, sizes: np.ndarray, source: str | None = None) -> dict:
    """Per conversation ``c``, square ``n`` / ``rec`` / ``match`` matrices from cell rows ``(c, i, j, n, rec, m)``
    (missing cells: n = 0, the others NaN)."""
    out = {}
    for c, rows in cells.groupby("c", sort=True):
        size = int(sizes[c])
        i, j = rows["i"].to_numpy(), rows["j"].to_numpy()
        n = np.zeros((size, size))
        rec = np.full((size, size), np.nan)
        match = np.full((size, size), np.nan)
        n[i, j] = np.nan_to_num(rows["n"].to_numpy(float))
        rec[i, j] = rows["rec"].to_numpy(float)
        match[i, j] = rows["m"].to_numpy(float)
        out[str(int(c))] = {"n": [_column(r, 0) for r in n], "rec": [_column(r) for r in rec],
                            "match": [_column(r) for r in match]}
        if source:
            out[str(int(c))]["source"] = source
    return out


def _group_matrices(corpus: _Corpus, table: pd.DataFrame) -> dict:
    """Pairwise conditional reciprocity Rec(j←i) over reply edges, for conversations with > 2 speakers."""
    k = np.array([len(s) for s in corpus.speakers])
    multi = np.flatnonzero(k > 2)
    if not len(multi):
        return {}
    from reciprocity.measure import turn_pairs

    pairs = turn_pairs(table)
    conv = corpus.conversation_code[pairs["next"].to_numpy()]
    keep = np.isin(conv, multi)
    prev, nxt, conv = pairs["prev"].to_numpy()[keep], pairs["next"].to_numpy()[keep], conv[keep]
    disclosed = table["disclosure"].to_numpy(bool)
    depth = table["depth"].to_numpy(float)
    frame = pd.DataFrame({"c": conv, "i": corpus.speaker_local[prev], "j": corpus.speaker_local[nxt],
                          "dp": disclosed[prev], "dn": disclosed[nxt],
                          "m": 1 - np.abs(depth[nxt] - depth[prev]) / (depth[nxt] + depth[prev] + 1e-9)})
    # one grouped pass over all cells: Rec(j<-i) = P(j discloses | i disclosed) - P(j discloses)
    cells = frame.assign(both=frame["dp"] & frame["dn"]).groupby(["c", "i", "j"]).agg(
        n=("dn", "size"), base=("dn", "mean"), n_dp=("dp", "sum"), n_both=("both", "sum"), m=("m", "mean"))
    n_dp = cells["n_dp"].to_numpy(float)
    cells["rec"] = np.where(n_dp > 0, cells["n_both"].to_numpy(float) / np.maximum(n_dp, 1), np.nan) - cells["base"]
    return _fill_matrices(cells.reset_index(), k)


def _stages(analysis: Any, corpus: _Corpus) -> dict:
    table = corpus.table
    names: list[str] | None = None
    codes = None
    depenetration = None
    if "stage" in table.columns:
        stage = table["stage"]
        if isinstance(stage.dtype, pd.CategoricalDtype):
            names, codes = [str(c) for c in stage.cat.categories], stage.cat.codes.to_numpy()
        if "depenetration" in table.columns:
            depenetration = table["depenetration"].fillna(False).to_numpy(bool)
    if codes is None:
        try:
            from reciprocity.measure.stages import stages as compute_stages
        except ImportError:
            return {"available": False, "reason": "stage labels are not available (reciprocity.measure.stages "
                                                  "is not installed)"}
        try:
            result = compute_stages(table)
        except Exception as error:
            return {"available": False, "reason": f"stage labels could not be computed: {error}"}
        stage = result["stage"]
        names = [str(c) for c in stage.cat.categories] if isinstance(stage.dtype, pd.CategoricalDtype) else None
        if names is None:
            names = sorted(stage.dropna().astype(str).unique())
            codes = pd.Categorical(stage.astype(str), categories=names).codes
        else:
            codes = stage.cat.codes.to_numpy()
        if "depenetration" in result.columns:
            depenetration = result["depenetration"].fillna(False).to_numpy(bool)
    return {"available": True, "names": names, "codes": np.asarray(codes, dtype=np.int64).tolist(),
            "depenetration": None if depenetration is None else depenetration.astype(int).tolist()}


def _alerts(analysis: Any, corpus: _Corpus) -> dict:
    alerts = _attribute(analysis, "alerts")
    if not isinstance(alerts, pd.DataFrame):
        advise = None
        try:
            from reciprocity.advise import advise
        except ImportError:
            try:
                from reciprocity.advise.alerts import advise
            except ImportError:
                advise = None
        if advise is None:
            return {"available": False, "reason": "alerts are not available (reciprocity.advise is not installed)"}
        try:
            alerts = advise(corpus.table)
        except Exception as error:
            return {"available": False, "reason": f"alerts could not be computed: {error}"}
    if not {CONVERSATION, "kind"} <= set(alerts.columns):
        return {"available": False, "reason": "alerts table lacks conversation_id/kind columns"}
    conv_index = pd.Series(np.arange(len(corpus.conversation_ids)), index=corpus.conversation_ids)
    c = conv_index.reindex(alerts[CONVERSATION].astype(str)).to_numpy()
    turn_key = pd.Series(np.arange(len(corpus.table)), index=pd.MultiIndex.from_arrays(
        [corpus.conversation_code, pd.to_numeric(corpus.table["turn"], errors="coerce").to_numpy()]))
    turn_key = turn_key[~turn_key.index.duplicated()]
    if "turn" in alerts.columns:
        rows = turn_key.reindex(pd.MultiIndex.from_arrays(
            [np.nan_to_num(c, nan=-1).astype(np.int64), pd.to_numeric(alerts["turn"], errors="coerce").to_numpy()]
        )).to_numpy()
    else:
        rows = np.full(len(alerts), np.nan)
    ok = ~np.isnan(c)
    kinds = list(dict.fromkeys(alerts["kind"].astype(str)))
    try:
        from reciprocity.advise.alerts import KINDS
        kinds = [k for k in KINDS if k in kinds] + [k for k in kinds if k not in KINDS]
    except ImportError:
        pass
    kind_index = {k: i for i, k in enumerate(kinds)}
    offsets = corpus.offsets
    conv = c[ok].astype(np.int64)
    local = np.where(np.isnan(rows[ok]), -1, rows[ok] - offsets[conv]).astype(np.int64)

    def text_of(column: str) -> list[str]:
        if column not in alerts.columns:
            return [""] * int(ok.sum())
        return alerts[column].astype(object).where(alerts[column].notna(), "").astype(str).to_numpy()[ok].tolist()

    return {
        "available": True,
        "kinds": kinds,
        "c": conv.tolist(),
        "u": local.tolist(),
        "k": [kind_index[k] for k in alerts["kind"].astype(str).to_numpy()[ok]],
        "severity": text_of("severity"),
        "speaker": text_of(SPEAKER),
        "evidence": text_of("evidence"),
        "suggestions": {k: str(v) for k, v in _suggestions().items() if k in kind_index},
    }


def _suggestions() -> dict:
    try:
        from reciprocity.advise.alerts import SUGGESTIONS
        return dict(SUGGESTIONS)
    except ImportError:
        return {}


def _trust(analysis: Any, corpus: _Corpus) -> dict:
    """Per-utterance latent trust: a column of the analysis, else the model's particle filter on the first
    conversations (up to :data:`TRUST_MAX_UTTERANCES` utterances — the filter costs ~1 ms per utterance)."""
    table = corpus.table
    column = next((c for c in ("latent_trust", "trust", "trust_mean") if c in table.columns), None)
    if column is not None:
        return {"available": True, "values": _column(pd.to_numeric(table[column], errors="coerce").to_numpy(float), 2),
                "note": None}
    try:
        from reciprocity.model import filter_latent
    except ImportError:
        return {"available": False, "reason": "latent trust is not available (reciprocity.model.filter_latent "
                                              "is not installed)"}
    sizes = np.diff(corpus.offsets)
    n_conv = int(np.searchsorted(np.cumsum(sizes), TRUST_MAX_UTTERANCES, side="right"))
    if n_conv == 0:
        return {"available": False, "reason": "conversations too long for the latent-trust filter in a report"}
    subset = table.iloc[: corpus.offsets[n_conv]]
    try:
        result = filter_latent(subset, n_particles=TRUST_PARTICLES)
    except Exception as error:
        return {"available": False, "reason": f"latent trust could not be estimated: {error}"}
    values = np.full(len(table), np.nan)
    if isinstance(result, pd.DataFrame) and {CONVERSATION, "turn", "trust_mean"} <= set(result.columns):
        key = pd.MultiIndex.from_arrays([result[CONVERSATION].astype(str), pd.to_numeric(result["turn"], errors="coerce")])
        lookup = pd.Series(result["trust_mean"].to_numpy(float), index=key)
        lookup = lookup[~lookup.index.duplicated()]
        wanted = pd.MultiIndex.from_arrays([subset[CONVERSATION].astype(str), pd.to_numeric(subset["turn"], errors="coerce")])
        values[: len(subset)] = lookup.reindex(wanted).to_numpy(float)
    else:
        found = _trust_values(result, len(subset))
        if found is None:
            return {"available": False, "reason": "filter_latent returned no per-utterance trust"}
        values[: len(subset)] = found
    note = None if n_conv == len(sizes) else (f"latent trust estimated for the first {n_conv} of {len(sizes)} "
                                              "conversations (particle filter, default model parameters)")
    return {"available": True, "values": _column(values, 2), "note": note}


def _trust_values(result: Any, n: int) -> np.ndarray | None:
    candidates = []
    if isinstance(result, pd.DataFrame):
        candidates = [result[c] for c in result.columns if "trust" in str(c).lower()]
    elif isinstance(result, (pd.Series, np.ndarray)):
        candidates = [result]
    elif isinstance(result, dict):
        candidates = [v for k, v in result.items() if "trust" in str(k).lower()]
    for candidate in candidates:
        array = np.asarray(candidate, dtype=float).reshape(-1)
        if len(array) == n:
            return array
    return None


EXTRA_TABLES = {
    "multilevel": "Lagged multilevel model: d_B,t = β0 + β_s d_B,t−1 + β_p d_A,t−1 + u_dyad + e "
                  "(partner lag β_p = reciprocity, own lag β_s = stability)",
    "srm": "Social Relations Model: variance components (actor, partner, relationship; generalised and dyadic "
           "reciprocity)",
    "srm_effects": "Social Relations Model: actor and partner effects per person",
}


def _extras(analysis: Any) -> list[dict]:
    """Small model tables attached to the analysis (multilevel model, SRM), shown as tables."""
    out = []
    for name, title in EXTRA_TABLES.items():
        value = getattr(analysis, name, None)
        if isinstance(value, pd.DataFrame) and len(value):
            entry = {"name": name, "title": title, "table": _table(value)}
            if name == "multilevel":
                headline = (getattr(analysis, "summary", None) or {}).get("multilevel")
                if isinstance(headline, dict):
                    entry["values"] = _plain({k: v for k, v in headline.items()
                                              if not isinstance(v, (dict, list)) and k != "loglik_reml"})
            out.append(entry)
    return out


# ---------------------------------------------------------------------------------------------------- payload
CONVERSATION_COLUMNS = {
    "n_utterances": "utterances", "n_speakers": "speakers", "n_exchanges": "exchanges",
    "disclosure_rate": "disclosure rate", "mean_depth": "mean depth", "max_depth": "max depth",
    "breadth": "breadth (topics)", "balance_index": "balance index (0 balanced … 1 one-sided)",
    "first_core_position": "first core disclosure (0 start … 1 end)", "depth_slope": "depth slope",
    "lagged_matching": "lagged matching r", "lagged_matching_null": "lagged matching, shuffle null",
    "lagged_matching_p": "lagged matching p", "matching_index": "matching index",
    "conditional_reciprocity": "conditional reciprocity", "conditional_reciprocity_null": "conditional reciprocity, null",
    "conditional_reciprocity_p": "conditional reciprocity p",
}


def build_payload(analysis: Analysis) -> dict:
    """The report's data (JSON-ready). See the module docstring."""
    corpus = _order(analysis.utterances)
    table = corpus.table
    n_conv = len(corpus.conversation_ids)
    summary = analysis.summary or {}

    depth = table["depth"].to_numpy(float)
    integral = bool(np.all(np.isclose(depth, np.round(depth))))
    depth_scale = 1 if integral else 100
    layer = table["layer"].to_numpy(np.int64)
    disclosed = table["disclosure"].to_numpy(bool)
    masks, topic_names = _topic_masks(table["topics"] if "topics" in table.columns else pd.Series([[]] * len(table)))
    texts, text_cap = _texts(table[TEXT])
    turn = pd.to_numeric(table["turn"], errors="coerce").to_numpy(float) if "turn" in table.columns \
        else np.arange(len(table), dtype=float)
    position = np.arange(len(table)) - corpus.offsets[corpus.conversation_code] if len(table) else np.zeros(0)
    first_turn = turn[corpus.offsets[:-1]] if n_conv else np.zeros(0)
    sequential = np.isfinite(turn) & (turn == first_turn[corpus.conversation_code] + position) if len(table) \
        else np.zeros(0, dtype=bool)
    turn_override = {}
    if not sequential.all():
        for c in np.unique(corpus.conversation_code[~sequential]):
            lo, hi = corpus.offsets[c], corpus.offsets[c + 1]
            turn_override[str(int(c))] = _column(turn[lo:hi], 3)

    unlabelled = disclosed & (masks == 0)
    has_unlabelled = bool(unlabelled.any())
    sectors = list(topic_names) + ([UNLABELLED] if has_unlabelled else [])

    # corpus onion: share of conversations in which someone reached layer >= L in the sector
    sector_bits = np.where(unlabelled, np.int64(1) << len(topic_names), masks)
    reach = np.zeros((len(sectors), 3))
    if len(table):
        for s in range(len(sectors)):
            hit = disclosed & ((sector_bits >> s) & 1).astype(bool)
            best = np.zeros(n_conv, dtype=np.int64)
            np.maximum.at(best, corpus.conversation_code[hit], layer[hit])
            for level in (1, 2, 3):
                reach[s, level - 1] = (best >= level).mean() if n_conv else 0
    topic_counts = {name: int(((masks >> i) & 1).astype(bool)[disclosed].sum()) for i, name in enumerate(topic_names)}
    if has_unlabelled:
        topic_counts[UNLABELLED] = int(unlabelled.sum())

    conversations = analysis.conversations.copy()
    conversations[CONVERSATION] = conversations[CONVERSATION].astype(str)
    frame = conversations.set_index(CONVERSATION).reindex(corpus.conversation_ids)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].notna().any()]
    ordered = [c for c in CONVERSATION_COLUMNS if c in numeric] + [c for c in numeric if c not in CONVERSATION_COLUMNS]
    metrics = {c: _column(frame[c].to_numpy(float)) for c in ordered}

    speakers = analysis.speakers.copy() if analysis.speakers is not None else pd.DataFrame()
    speaker_metrics = {}
    if len(speakers) and {CONVERSATION, SPEAKER} <= set(speakers.columns):
        speakers[CONVERSATION] = speakers[CONVERSATION].astype(str)
        speakers[SPEAKER] = speakers[SPEAKER].astype(str)
        keyed = speakers.set_index([CONVERSATION, SPEAKER])
        keys = pd.MultiIndex.from_tuples([(cid, s) for cid, names in zip(corpus.conversation_ids, corpus.speakers)
                                          for s in names], names=[CONVERSATION, SPEAKER])
        keyed = keyed[~keyed.index.duplicated()].reindex(keys)
        for column in ("conditional_reciprocity", "conditional_reciprocity_null", "conditional_reciprocity_p",
                       "n_responses"):
            if column in keyed.columns:
                speaker_metrics[column] = _column(keyed[column].to_numpy(float))

    stage_info = _stages(analysis, corpus)
    alert_info = _alerts(analysis, corpus)
    trust_info = _trust(analysis, corpus)

    # per-conversation stage / alert summaries for the picker's filters
    conv_stage_max, conv_stage_last, conv_depen = [], [], []
    if stage_info.get("available"):
        codes = np.asarray(stage_info["codes"], dtype=np.int64)
        best = np.full(n_conv, -1, dtype=np.int64)
        np.maximum.at(best, corpus.conversation_code, codes)
        conv_stage_max = best.tolist()
        conv_stage_last = codes[np.maximum(corpus.offsets[1:] - 1, 0)].tolist() if n_conv else []
        if stage_info.get("depenetration") is not None:
            dep = np.zeros(n_conv, dtype=np.int64)
            np.maximum.at(dep, corpus.conversation_code, np.asarray(stage_info["depenetration"], dtype=np.int64))
            conv_depen = dep.tolist()
    conv_alert_mask = np.zeros(n_conv, dtype=np.int64)
    conv_alert_count = np.zeros(n_conv, dtype=np.int64)
    if alert_info.get("available") and alert_info["c"]:
        np.bitwise_or.at(conv_alert_mask, np.asarray(alert_info["c"]), np.int64(1) << np.asarray(alert_info["k"]))
        np.add.at(conv_alert_count, np.asarray(alert_info["c"]), 1)

    reciprocity = summary.get("reciprocity", {})
    layer_counts = np.bincount(layer, minlength=4)[:4] if len(layer) else np.zeros(4, dtype=np.int64)
    payload = {
        "meta": {
            "source": str(summary.get("source", "")),
            "codes": str(summary.get("codes", "")),
            "generated": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "n_conversations": n_conv,
            "n_utterances": int(len(table)),
            "n_speakers": int(sum(len(s) for s in corpus.speakers)),
            "n_exchanges": summary.get("n_exchanges"),
            "disclosure_rate": _num(disclosed.mean() if len(disclosed) else None),
            "mean_depth": _num(depth.mean() if len(depth) else None),
            "n_skipped": len(summary.get("skipped_rows", []) or []),
            "text_cap": text_cap,
            "return_window": RETURN_WINDOW,
            "forest_max_labelled": FOREST_MAX_LABELLED,
        },
        "layers": [LAYER_NAMES[k] for k in range(4)],
        "layerCounts": layer_counts.astype(int).tolist(),
        "topics": topic_names,
        "sectors": sectors,
        "topicLabels": {name: TOPIC_LABELS.get(name, name.replace("_", " ")) for name in sectors},
        "topicCounts": topic_counts,
        "corpusOnion": [_column(row) for row in reach],
        "reciprocity": _plain(reciprocity),
        "lagSequential": _lag_sequential(analysis, corpus),
        "forest": _forest(analysis, conversations, corpus.conversation_ids),
        "groups": _groups(analysis, corpus, table),
        "stages": {k: v for k, v in stage_info.items() if k not in ("codes", "depenetration")},
        "alerts": alert_info,
        "trust": {"available": trust_info["available"], "reason": trust_info.get("reason"), "note": trust_info.get("note")},
        "extras": _extras(analysis),
        "conv": {
            "id": corpus.conversation_ids,
            "off": corpus.offsets.astype(int).tolist(),
            "spk": corpus.speakers,
            "turn0": _column(first_turn, 3),
            "turns": turn_override,
            "metrics": metrics,
            "metricLabels": {c: CONVERSATION_COLUMNS.get(c, c.replace("_", " ")) for c in ordered},
            "stageMax": conv_stage_max,
            "stageLast": conv_stage_last,
            "depenetration": conv_depen,
            "alertMask": conv_alert_mask.tolist(),
            "alertCount": conv_alert_count.tolist(),
        },
        "spk": speaker_metrics,
        "utt": {
            "s": corpus.speaker_local.astype(int).tolist(),
            "d": np.round(depth * depth_scale).astype(np.int64).tolist(),
            "dScale": depth_scale,
            "c": (layer * 2 + disclosed.astype(np.int64)).tolist(),
            "t": masks.tolist(),
            "x": texts,
            "st": stage_info.get("codes"),
            "dp": stage_info.get("depenetration"),
            "tr": trust_info.get("values"),
        },
    }
    return payload
