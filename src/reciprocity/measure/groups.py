"""Reciprocity in groups: the pairwise reciprocity matrix and the Social Relations Model (THEORY.md §3).

Pairwise matrix (:func:`pairwise_reciprocity`): for every ordered speaker pair (A -> B) of a
multi-party conversation, over the reply edges where B answers A (``turn_pairs`` follows
``reply_to`` when present): number of exchanges, lagged matching r = corr(d_A, d_B), matching
index and conditional reciprocity Rec(B <- A) = P(B discloses | A's turn disclosed) - P(B discloses),
both probabilities over B's replies to A; plus B's mean reply depth to A.

Social Relations Model (:func:`social_relations`; Warner, Kenny & Stoto 1979; Kenny 1994,
*Interpersonal Perception*, ch. 2 and appendix; Kenny, Kashy & Cook 2006, *Dyadic Data
Analysis*, ch. 8), for a round-robin group of n >= 4 persons with directed scores X_ij (i's
behaviour towards j, i != j), M_i. row mean, M_.j column mean, M_.. grand mean (all over the
n(n-1) off-diagonal cells):

    actor effect        a_i  = (n-1)^2/(n(n-2)) M_i. + (n-1)/(n(n-2)) M_.i - (n-1)/(n-2) M_..
    partner effect      b_j  = (n-1)^2/(n(n-2)) M_.j + (n-1)/(n(n-2)) M_j. - (n-1)/(n-2) M_..
    relationship effect g_ij = X_ij - a_i - b_j - M_..

    MS_B = sum_{i<j} (g_ij + g_ji)^2 / 2  /  ((n-1)(n-2)/2 - 1)       (between dyads)
    MS_W = sum_{i<j} (g_ij - g_ji)^2 / 2  /  ((n-1)(n-2)/2)           (within dyads)
    relationship variance   s2_g  = (MS_B + MS_W) / 2
    dyadic covariance       s_gg' = (MS_B - MS_W) / 2
    actor variance          s2_a  = sum a_i^2/(n-1) - MS_B/(2(n-2)) - MS_W/(2n)
    partner variance        s2_b  = sum b_i^2/(n-1) - MS_B/(2(n-2)) - MS_W/(2n)
    actor-partner cov.      s_ab  = sum a_i b_i/(n-1) - MS_B/(2(n-2)) + MS_W/(2n)
    generalised reciprocity r_ab  = s_ab / sqrt(s2_a s2_b)   (NaN unless both variances > 0)
    dyadic reciprocity      r_gg' = s_gg' / s2_g             (NaN unless s2_g > 0)

Variance estimates can be negative (sampling error); they are reported as estimated. Several
groups are pooled by the unweighted mean of their (co)variance estimates, with the correlations
recomputed from the pooled (co)variances. Everything is computed for all groups at once on
(groups x n x n) arrays of equal-size groups; groups of different sizes are handled per size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reciprocity.measure.pairs import positional
from reciprocity.measure.reciprocity import pair_statistics
from reciprocity.schema import CONVERSATION, SPEAKER

GROUP = "group"
ACTOR = "actor"
PARTNER = "partner"


def _speakers_per_row(coded: pd.DataFrame) -> np.ndarray:
    """Distinct speakers of each row's conversation (``groupby(conversation)[speaker].transform("nunique")``,
    from integer codes: a fraction of the memory); 0 for rows without a conversation, missing speakers not counted."""
    conversation = pd.factorize(coded[CONVERSATION])[0]
    speaker = pd.factorize(coded[SPEAKER])[0]
    n_conversations = int(conversation.max()) + 1 if len(conversation) else 0
    if n_conversations == 0:
        return np.zeros(len(conversation), dtype=np.int64)
    width = int(speaker.max()) + 2 if len(speaker) else 1           # speaker -1 (missing) -> digit 0
    key = conversation * width
    key += speaker
    key += 1
    del speaker
    key = np.unique(key)
    key = key[(key >= 0) & (key % width != 0)]                     # known conversation and speaker
    counts = np.bincount(key // width, minlength=n_conversations)
    del key
    out = counts[conversation]
    if conversation.min() < 0:
        out[conversation < 0] = 0
    return out


def pairwise_reciprocity(coded: pd.DataFrame, pairs: pd.DataFrame, *, min_speakers: int = 3) -> pd.DataFrame:
    """Reciprocity per ordered speaker pair (``speaker`` answered by ``responder``) in group conversations."""
    coded = positional(coded)
    columns = [CONVERSATION, SPEAKER, "responder", "n_exchanges", "lagged_matching", "matching_index",
               "conditional_reciprocity", "mean_reply_depth"]
    n_speakers = _speakers_per_row(coded)
    prev, nxt = pairs["prev"].to_numpy(), pairs["next"].to_numpy()
    keep = n_speakers[nxt] >= min_speakers
    del n_speakers
    prev, nxt = prev[keep], nxt[keep]
    if not len(nxt):
        return pd.DataFrame(columns=columns)
    conversation = coded[CONVERSATION].to_numpy()
    speaker = coded[SPEAKER].to_numpy()
    keys = pd.MultiIndex.from_arrays([conversation[nxt], speaker[prev], speaker[nxt]])
    code, labels = pd.factorize(keys)
    depth = coded["depth"].to_numpy(float)
    stats = pair_statistics(depth, coded["disclosure"].to_numpy(bool), prev, nxt, code, len(labels))
    reply_depth = np.bincount(code, weights=depth[nxt], minlength=len(labels)) / stats.n_pairs
    table = pd.DataFrame({
        CONVERSATION: labels.get_level_values(0),
        SPEAKER: labels.get_level_values(1),
        "responder": labels.get_level_values(2),
        "n_exchanges": stats.n_pairs.astype("int64"),
        "lagged_matching": stats.r_lag,
        "matching_index": stats.matching,
        "conditional_reciprocity": stats.conditional,
        "mean_reply_depth": reply_depth,
    })
    return table.sort_values([CONVERSATION, SPEAKER, "responder"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class SRMResult:
    """Result of :func:`social_relations`.

    * ``variances`` — tidy: ``group`` (a group id or ``"pooled"``), ``n`` (group size or number of
      groups), ``component`` (actor_variance, partner_variance, relationship_variance,
      actor_partner_covariance, dyadic_covariance, generalized_reciprocity, dyadic_reciprocity,
      relative_actor_variance, relative_partner_variance, relative_relationship_variance), ``estimate``;
    * ``effects`` — ``group``, ``person``, ``actor``, ``partner`` effects and group mean;
    * ``relationships`` — ``group``, ``actor``, ``partner``, ``score`` X_ij, ``relationship`` g_ij;
    * ``excluded`` — groups left out and why (fewer than 4 members, incomplete round robin).
    """

    variances: pd.DataFrame
    effects: pd.DataFrame
    relationships: pd.DataFrame
    excluded: pd.DataFrame


COMPONENTS = ("actor_variance", "partner_variance", "relationship_variance", "actor_partner_covariance",
              "dyadic_covariance", "generalized_reciprocity", "dyadic_reciprocity",
              "relative_actor_variance", "relative_partner_variance", "relative_relationship_variance")


def srm_components(x: np.ndarray) -> dict[str, np.ndarray]:
    """SRM effects and variance components for a stack of round-robin matrices (g, n, n).

    Diagonal cells are ignored. Returns arrays: a, b (g, n), rel (g, n, n), mean (g,) and each
    name in :data:`COMPONENTS` (g,) — see the module docstring for the formulas.
    """
    x = np.asarray(x, dtype=float)
    g, n, _ = x.shape
    if n < 4:
        raise ValueError("the Social Relations Model needs round-robin groups of at least 4 persons")
    off = ~np.eye(n, dtype=bool)
    x = np.where(off, x, 0.0)
    row = x.sum(axis=2) / (n - 1)                   # M_i.
    col = x.sum(axis=1) / (n - 1)                   # M_.j
    grand = x.sum(axis=(1, 2)) / (n * (n - 1))      # M_..
    c1, c2, c3 = (n - 1) ** 2 / (n * (n - 2)), (n - 1) / (n * (n - 2)), (n - 1) / (n - 2)
    a = c1 * row + c2 * col - c3 * grand[:, None]
    b = c1 * col + c2 * row - c3 * grand[:, None]
    rel = np.where(off, x - a[:, :, None] - b[:, None, :] - grand[:, None, None], 0.0)
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    pair_sum = (rel + rel.transpose(0, 2, 1))[:, upper]
    pair_diff = (rel - rel.transpose(0, 2, 1))[:, upper]
    n_dyads = (n - 1) * (n - 2) / 2
    ms_between = (pair_sum**2 / 2).sum(axis=1) / (n_dyads - 1)
    ms_within = (pair_diff**2 / 2).sum(axis=1) / n_dyads
    out = _variances(
        (a**2).sum(axis=1) / (n - 1), (b**2).sum(axis=1) / (n - 1), (a * b).sum(axis=1) / (n - 1),
        ms_between, ms_within, n)
    out.update({"a": a, "b": b, "rel": rel, "mean": grand})
    return out


def _variances(aa, bb, ab, ms_between, ms_within, n) -> dict[str, np.ndarray]:
    s_g = (ms_between + ms_within) / 2
    s_gg = (ms_between - ms_within) / 2
    s_a = aa - ms_between / (2 * (n - 2)) - ms_within / (2 * n)
    s_b = bb - ms_between / (2 * (n - 2)) - ms_within / (2 * n)
    s_ab = ab - ms_between / (2 * (n - 2)) + ms_within / (2 * n)
    return _finish({"actor_variance": s_a, "partner_variance": s_b, "relationship_variance": s_g,
                    "actor_partner_covariance": s_ab, "dyadic_covariance": s_gg})


def _finish(v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    s_a, s_b, s_g = (np.asarray(v[k], dtype=float) for k in ("actor_variance", "partner_variance", "relationship_variance"))
    with np.errstate(invalid="ignore", divide="ignore"):
        v["generalized_reciprocity"] = np.where((s_a > 0) & (s_b > 0), v["actor_partner_covariance"] / np.sqrt(s_a * s_b), np.nan)
        v["dyadic_reciprocity"] = np.where(s_g > 0, v["dyadic_covariance"] / s_g, np.nan)
        total = np.clip(s_a, 0, None) + np.clip(s_b, 0, None) + np.clip(s_g, 0, None)
        for name, value in (("actor", s_a), ("partner", s_b), ("relationship", s_g)):
            v[f"relative_{name}_variance"] = np.where((value >= 0) & (total > 0), value / total, np.nan)
    return v


def social_relations(scores: pd.DataFrame, *, group: str = GROUP, actor: str = ACTOR, partner: str = PARTNER,
                     value: str = "score") -> SRMResult:
    """Social Relations Model decomposition of round-robin scores (long table: group, actor, partner, value).

    Each group must be a complete round robin (every ordered pair of distinct members scored
    once) with at least 4 members; other groups are listed in ``excluded``.
    """
    data = scores[[group, actor, partner, value]].copy()
    data = data.loc[data[actor] != data[partner]]
    data = data.groupby([group, actor, partner], sort=False, as_index=False)[value].mean()
    members = pd.concat([data[[group, actor]].set_axis([group, "person"], axis=1),
                         data[[group, partner]].set_axis([group, "person"], axis=1)]).drop_duplicates()
    size = members.groupby(group, sort=False)["person"].size()
    cells = data.groupby(group, sort=False).size()
    complete = cells.reindex(size.index).fillna(0).to_numpy() == (size * (size - 1)).to_numpy()
    reasons = np.where(size.to_numpy() < 4, "fewer than 4 members",
                       np.where(~complete, "incomplete round robin", ""))
    excluded = pd.DataFrame({group: size.index, "n": size.to_numpy(), "reason": reasons})
    excluded = excluded.loc[excluded["reason"] != ""].reset_index(drop=True)
    ok_groups = size.index[reasons == ""]

    variance_rows, effect_rows, relation_rows, pooled = [], [], [], []
    data = data.loc[data[group].isin(ok_groups)]
    members = members.loc[members[group].isin(ok_groups)].sort_values([group, "person"], kind="stable")
    members["k"] = members.groupby(group, sort=False).cumcount()
    for n, block in members.groupby(members[group].map(size), sort=True):   # one pass per group size
        ids = pd.unique(block[group])
        gindex = pd.Series(np.arange(len(ids)), index=ids)
        pos = block.set_index([group, "person"])["k"]
        sub = data.loc[data[group].isin(ids)]
        cell = (gindex[sub[group]].to_numpy(),
                pos.reindex(pd.MultiIndex.from_arrays([sub[group], sub[actor]])).to_numpy(),
                pos.reindex(pd.MultiIndex.from_arrays([sub[group], sub[partner]])).to_numpy())
        x = np.zeros((len(ids), n, n))
        x[cell] = sub[value].to_numpy(float)
        out = srm_components(x)
        pooled.append((len(ids), out))
        variance_rows.append(pd.DataFrame({
            group: np.repeat(ids, len(COMPONENTS)), "n": n,
            "component": np.tile(COMPONENTS, len(ids)),
            "estimate": np.column_stack([out[c] for c in COMPONENTS]).reshape(-1)}))
        block = block.assign(g=gindex[block[group]].to_numpy())
        effect_rows.append(pd.DataFrame({
            group: block[group].to_numpy(), "person": block["person"].to_numpy(),
            "actor": out["a"][block["g"], block["k"]], "partner": out["b"][block["g"], block["k"]],
            "group_mean": out["mean"][block["g"]]}))
        relation_rows.append(sub.assign(relationship=out["rel"][cell]))
    variances = pd.concat(variance_rows, ignore_index=True) if variance_rows else \
        pd.DataFrame(columns=[group, "n", "component", "estimate"])
    if pooled:
        n_groups = sum(count for count, _ in pooled)
        base = ("actor_variance", "partner_variance", "relationship_variance", "actor_partner_covariance",
                "dyadic_covariance")
        mean = _finish({k: np.array(sum(out[k].sum() for _, out in pooled) / n_groups) for k in base})
        variances = pd.concat([variances, pd.DataFrame({
            group: "pooled", "n": n_groups, "component": list(COMPONENTS),
            "estimate": [float(mean[c]) for c in COMPONENTS]})], ignore_index=True)
    effects = pd.concat(effect_rows, ignore_index=True) if effect_rows else \
        pd.DataFrame(columns=[group, "person", "actor", "partner", "group_mean"])
    relationships = pd.concat(relation_rows, ignore_index=True) if relation_rows else \
        pd.DataFrame(columns=[group, actor, partner, value, "relationship"])
    return SRMResult(variances, effects, relationships, excluded)


def round_robin_scores(coded: pd.DataFrame, pairs: pd.DataFrame, value: str = "depth", *,
                       min_speakers: int = 4) -> pd.DataFrame:
    """Directed scores for the SRM from conversations: X_ij = mean ``value`` of i's replies to j.

    Only conversations with at least ``min_speakers`` speakers; the conversation is the group.
    """
    coded = positional(coded)
    n_speakers = _speakers_per_row(coded)
    prev, nxt = pairs["prev"].to_numpy(), pairs["next"].to_numpy()
    keep = n_speakers[nxt] >= min_speakers
    del n_speakers
    frame = pd.DataFrame({
        GROUP: coded[CONVERSATION].to_numpy()[nxt[keep]],
        ACTOR: coded[SPEAKER].to_numpy()[nxt[keep]],
        PARTNER: coded[SPEAKER].to_numpy()[prev[keep]],
        "score": coded[value].to_numpy(float)[nxt[keep]],
    })
    return frame.groupby([GROUP, ACTOR, PARTNER], sort=False, as_index=False)["score"].mean()
