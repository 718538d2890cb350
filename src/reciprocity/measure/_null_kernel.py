"""Compiled null-baseline kernels (Numba) for :func:`reciprocity.measure.reciprocity.reciprocity_tests`.

Used when Numba is importable (``pip install "reciprocity[numba]"``, installed by ``make``); the chunked NumPy
engine of :mod:`reciprocity.measure.reciprocity` is the reference implementation and the fallback, and
``tests/test_measure_null_kernel.py`` checks that both give the same null distributions.

* :func:`permutation_nulls` — shuffle (Fisher-Yates within each speaker) or circular shift (a uniform offset per
  speaker) draws, conversation by conversation (``prange`` over fixed blocks of conversations). For each
  conversation and draw it re-maps the speakers' rows, sums the pair features (x, y, x², y², xy, prev disclosed,
  both disclosed, next disclosed; per conversation and per responder) and tallies the resulting r_lag and
  conditional reciprocity against the observed values at once, so no (rows × draws) array is ever built.
* :func:`pseudo_nulls` — every eligible dyad against each of its K pseudo-dyad partners (enumerated, no draws;
  the pair sums are linear in the partner's values, so each candidate costs one pass over the partner's turns).
* :func:`picked_draw_sums` — corpus-level pseudo-dyad draws (one random candidate per dyad and draw).
* :func:`resample_means` — bootstrap means of several columns over given resamples of dyads.

Random numbers are counter-based: the j-th draw of draw b of conversation c is
``splitmix64(base(key, c, b) + j · φ)``, φ = 0x9E3779B97F4A7C15 (Steele et al. 2014), and a bounded integer in
{0..m-1} is the high 32 bits of a draw times m, shifted right by 32 (Lemire 2019; bias below m / 2³²). Every draw has
a fixed address, so results do not depend on the number of threads or on the blocking.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_C1, _C2 = np.uint64(0xD1B54A32D192ED03), np.uint64(0xABA0E6D1C5F2B2A9)
_EPSILON = 1e-9
#: Conversations are processed in this many blocks (fixed, so sums over blocks do not depend on the threads).
N_BLOCKS = 256


@njit(inline="always", cache=True, error_model="numpy")
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(inline="always", cache=True, error_model="numpy")
def _below(r, m):
    """Integer in {0..m-1} from the high 32 bits of the 64-bit draw ``r``."""
    return np.int64(((r >> _S32) * np.uint64(m)) >> _S32)


@njit(inline="always", cache=True, error_model="numpy")
def _tally(value, observed, index, counts, total):
    """Count one null value of column ``index``: counts[0] greater, counts[1] ties (within EPSILON), counts[2] valid."""
    if not np.isnan(value):
        counts[2, index] += 1
        total[index] += value
        if value > observed + _EPSILON:
            counts[0, index] += 1
        if abs(value - observed) <= _EPSILON:
            counts[1, index] += 1


@njit(inline="always", cache=True, error_model="numpy")
def _tally_draws(values, observed, index, counts, total):
    """:func:`_tally` for the null values of all draws of one column (branch-free)."""
    greater = ties = valid = 0
    summed = 0.0
    for value in values:
        defined = value == value
        valid += defined
        summed += value if defined else 0.0
        greater += value > observed + _EPSILON
        ties += abs(value - observed) <= _EPSILON
    counts[0, index] += greater
    counts[1, index] += ties
    counts[2, index] += valid
    total[index] += summed


@njit(inline="always", cache=True, error_model="numpy")
def _r_lag(n, sx, sy, sxx, syy, sxy):
    numerator = n * sxy - sx * sy
    product = (n * sxx - sx * sx) * (n * syy - sy * sy)
    if n < 3 or not product > 0.0:
        return np.nan
    denominator = np.sqrt(product)
    if denominator <= _EPSILON:
        return np.nan
    return min(1.0, max(-1.0, numerator / denominator))


@njit(inline="always", cache=True, error_model="numpy")
def _conditional(n_prev, n_both, n_next, n):
    if n_prev > 0:
        return n_both / n_prev - n_next / n
    return np.nan


@njit(inline="always", cache=True, error_model="numpy")
def _fisher_z(r):
    """atanh(clip(r, -0.999, 0.999)) = ½ log((1 + r) / (1 - r))."""
    r = min(0.999, max(-0.999, r))
    return 0.5 * np.log((1.0 + r) / (1.0 - r))


@njit(inline="always", cache=True, error_model="numpy")
def _draw(local, values, r0, k0, k1, speaker_start, speaker_size, base, circular):
    """One draw for a conversation: ``local[i]`` = ``values`` of the row that row ``r0 + i`` takes (each speaker's rows
    rotated by a uniform offset, or shuffled by Fisher-Yates with two 32-bit draws per 64-bit hash)."""
    counter = np.uint64(0)
    for k in range(k0, k1):
        start = speaker_start[k] - r0
        size = speaker_size[k]
        if circular:
            counter += _GOLDEN
            offset = _below(_mix(base + counter), size)
            for i in range(size):
                j = i + offset
                if j >= size:
                    j -= size
                local[start + i] = values[r0 + start + j]
        else:
            for i in range(size):
                local[start + i] = values[r0 + start + i]
            i = size - 1
            while i > 0:
                counter += _GOLDEN
                r = _mix(base + counter)
                j = np.int64(((r >> _S32) * np.uint64(i + 1)) >> _S32)
                held = local[start + i]
                local[start + i] = local[start + j]
                local[start + j] = held
                i -= 1
                if i > 0:
                    j = np.int64(((r & _LOW32) * np.uint64(i + 1)) >> _S32)
                    held = local[start + i]
                    local[start + i] = local[start + j]
                    local[start + j] = held
                    i -= 1


@njit(parallel=True, cache=True, error_model="numpy")
def permutation_nulls(key, circular, n_draws, depth, disclosed, codes, table, level, fields, totals, corrections,
                      correction_weights, row_start, speaker_start_of_conversation, speaker_start, speaker_size,
                      correction_start_of_conversation, segment_start_of_conversation, segment_start,
                      segment_speaker, lp, ln, n_pairs_speaker, observed_r, observed_rec, observed_rec_speaker,
                      tally_r, tally_rec, tally_rec_speaker, total_r, total_rec, total_rec_speaker, corpus):
    """Shuffle (``circular=False``) or circular-shift null draws of every conversation, tallied in place.

    Layout arrays (rows by conversation then speaker; pairs by conversation then responder, the pairs of one
    responder forming a segment): ``depth`` (float64) and ``disclosed`` (uint8) per layout row; ``row_start`` /
    ``speaker_start_of_conversation`` / ``segment_start_of_conversation`` (n_conversations + 1) delimit each
    conversation's rows, layout speakers and segments; ``speaker_start`` / ``speaker_size`` per layout speaker;
    ``segment_start`` (n_segments + 1) delimits each segment's pairs and ``segment_speaker`` is its responder;
    ``lp`` / ``ln`` are the layout rows of each pair's opener and answer.

    Packed codes (``codes`` non-empty; see ``_NullEngine._packing``): the draws permute the one-byte row codes, each
    pair adds ``table[code_prev * n_codes + code_next]`` (16·x·y and the three disclosure flags in the bit ``fields``
    = (n_codes, shift 1, shift 2, shift 3, mask xy, mask flag)) to its segment's integer sum, and the linear sums
    (x, y, x², y²) are the conversation ``totals`` (n_conversations, 2) plus ``correction_weights`` (w_prev - 1,
    w_next - 1) times the drawn levels of the ``corrections`` rows. Otherwise every pair's features are summed.

    Tallies (int64 rows greater, ties, valid) and totals are accumulated per conversation and per layout speaker;
    ``corpus`` (N_BLOCKS, 4, n_draws) receives per block the sums over conversations of Fisher z of r_lag, its
    count, conditional reciprocity and its count, per draw.
    """
    n_conversations = len(row_start) - 1
    packed = len(codes) > 0
    n_codes, s1, s2, s3, mask_xy, mask_flag = fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]
    identity = np.arange(len(depth) if not packed else 0).astype(lp.dtype)      # row indices, pairs' dtype
    longest = 1
    for c in range(n_conversations):
        longest = max(longest, row_start[c + 1] - row_start[c])
    per_block = (n_conversations + N_BLOCKS - 1) // N_BLOCKS
    most_segments = 1
    for c in range(n_conversations):
        most_segments = max(most_segments, segment_start_of_conversation[c + 1] - segment_start_of_conversation[c])
    for block in prange(N_BLOCKS):
        local_code = np.empty(longest, dtype=np.uint8)
        local_row = np.empty(longest, dtype=lp.dtype)
        r_draws = np.empty(n_draws)
        rec_draws = np.empty(n_draws)
        speaker_draws = np.empty((most_segments, n_draws))
        c_first = min(block * per_block, n_conversations)
        c_last = min(c_first + per_block, n_conversations)
        for c in range(c_first, c_last):
            r0 = row_start[c]
            k0, k1 = speaker_start_of_conversation[c], speaker_start_of_conversation[c + 1]
            g0, g1 = segment_start_of_conversation[c], segment_start_of_conversation[c + 1]
            e0, e1 = correction_start_of_conversation[c], correction_start_of_conversation[c + 1]
            n = np.float64(segment_start[g1] - segment_start[g0])
            for b in range(n_draws):
                base = _mix(key + np.uint64(c) * _C1 + np.uint64(b) * _C2)
                sx = sy = sxx = syy = sxy = 0.0
                n_prev = n_both = n_next = 0.0
                if packed:
                    _draw(local_code, codes, r0, k0, k1, speaker_start, speaker_size, base, circular)
                else:
                    _draw(local_row, identity, r0, k0, k1, speaker_start, speaker_size, base, circular)
                for g in range(g0, g1):
                    s_prev = s_both = s_next = 0.0
                    if packed:
                        acc = np.int64(0)
                        for q in range(segment_start[g], segment_start[g + 1]):
                            acc += table[np.int64(local_code[lp[q] - r0]) * n_codes + local_code[ln[q] - r0]]
                        sxy += (acc & mask_xy) / 16.0
                        s_prev = np.float64((acc >> s1) & mask_flag)
                        s_both = np.float64((acc >> s2) & mask_flag)
                        s_next = np.float64(acc >> s3)
                    else:
                        for q in range(segment_start[g], segment_start[g + 1]):
                            a = local_row[lp[q] - r0]
                            z = local_row[ln[q] - r0]
                            x, y = depth[a], depth[z]
                            dp, dn = np.float64(disclosed[a]), np.float64(disclosed[z])
                            sx += x
                            sy += y
                            sxx += x * x
                            syy += y * y
                            sxy += x * y
                            s_prev += dp
                            s_both += dp * dn
                            s_next += dn
                    n_prev += s_prev
                    n_both += s_both
                    n_next += s_next
                    speaker_draws[g - g0, b] = _conditional(s_prev, s_both, s_next, n_pairs_speaker[segment_speaker[g]])
                if packed:
                    sx = sy = totals[c, 0]
                    sxx = syy = totals[c, 1]
                    for e in range(e0, e1):
                        v = level[local_code[corrections[e] - r0] >> 1]
                        sx += correction_weights[e, 0] * v
                        sxx += correction_weights[e, 0] * v * v
                        sy += correction_weights[e, 1] * v
                        syy += correction_weights[e, 1] * v * v
                r_draws[b] = _r_lag(n, sx, sy, sxx, syy, sxy) if n > 0 else np.nan
                rec_draws[b] = _conditional(n_prev, n_both, n_next, n) if n > 0 else np.nan
            _tally_draws(r_draws, observed_r[c], c, tally_r, total_r)
            _tally_draws(rec_draws, observed_rec[c], c, tally_rec, total_rec)
            for g in range(g0, g1):
                k = segment_speaker[g]
                _tally_draws(speaker_draws[g - g0], observed_rec_speaker[k], k, tally_rec_speaker, total_rec_speaker)
            for b in range(n_draws):
                r = r_draws[b]
                valid = r == r
                corpus[block, 0, b] += _fisher_z(r) if valid else 0.0
                corpus[block, 1, b] += 1.0 if valid else 0.0
                rec = rec_draws[b]
                valid = rec == rec
                corpus[block, 2, b] += rec if valid else 0.0
                corpus[block, 3, b] += 1.0 if valid else 0.0


@njit(parallel=True, cache=True, error_model="numpy")
def pseudo_nulls(depth, disclosed, prev, nxt, pair_start, eligible, candidates, role_b, index_in_role,
                 b_depth, b_disclosed, b_start, b_count, observed_r, observed_rec, tally_r, tally_rec, total_r,
                 total_rec, pseudo_z, pseudo_rec):
    """Every eligible dyad against each of its pseudo-dyad partners (as ``PseudoDyads.source``), tallied in place.

    ``depth`` / ``disclosed`` in table row order; ``prev`` / ``nxt`` the table rows of each pair, pairs grouped by
    conversation (``pair_start``); the candidate arrays as in ``PseudoDyads``, with the second speakers' codes in
    the order of ``PseudoDyads.b_rows`` (``b_depth`` / ``b_disclosed``: each dyad's contiguous, so a candidate is
    read from one or two cache lines). Writes Fisher z of r_lag (atanh of r clipped to ±0.999) and conditional
    reciprocity of candidate k of conversation c to ``pseudo_z[c, k]`` / ``pseudo_rec[c, k]`` (NaN where not eligible
    or undefined).

    In a two-speaker dyad every pair has one turn of the second speaker B, whose value v_i (its i-th turn) the
    partner replaces; the pair sums are therefore linear in the partner's values: e.g. Σ xy = Σ_i v_i W_i with
    W_i the summed first-speaker values paired with B's i-th turn, Σ x = (first speaker's openers) + Σ_i v_i n^open_i.
    The weights are computed once per dyad, so each candidate costs one pass over B's turns.
    """
    n_conversations = len(pair_start) - 1
    n_candidates = candidates.shape[1]
    for c in prange(n_conversations):
        if not eligible[c]:
            continue
        q0, q1 = pair_start[c], pair_start[c + 1]
        n = np.float64(q1 - q0)
        own = b_count[c]
        # weights per turn i of B: times it opens / answers a pair, summed partner depth and partner disclosure
        opens = np.zeros(own)
        answers = np.zeros(own)
        depth_weight = np.zeros(own)
        flag_weight = np.zeros(own)
        sx_a = sy_a = sxx_a = syy_a = prev_a = next_a = 0.0      # the first speaker's side of the sums
        for q in range(q0, q1):
            a, z = prev[q], nxt[q]
            if role_b[a]:                      # B opens, the first speaker answers
                i = index_in_role[a]
                y, dn = np.float64(depth[z]), np.float64(disclosed[z])
                opens[i] += 1.0
                depth_weight[i] += y
                flag_weight[i] += dn
                sy_a += y
                syy_a += y * y
                next_a += dn
            else:                              # the first speaker opens, B answers
                i = index_in_role[z]
                x, dp = np.float64(depth[a]), np.float64(disclosed[a])
                answers[i] += 1.0
                depth_weight[i] += x
                flag_weight[i] += dp
                sx_a += x
                sxx_a += x * x
                prev_a += dp
        for k in range(n_candidates):
            partner = candidates[c, k]
            start, count = (b_start[partner], b_count[partner]) if partner >= 0 else (b_start[c], own)
            sx, sy, sxx, syy, sxy = sx_a, sy_a, sxx_a, syy_a, 0.0
            n_prev, n_next, n_both = prev_a, next_a, 0.0
            j = 0
            for i in range(own):
                v, d = np.float64(b_depth[start + j]), np.float64(b_disclosed[start + j])
                sx += opens[i] * v
                sxx += opens[i] * v * v
                sy += answers[i] * v
                syy += answers[i] * v * v
                sxy += depth_weight[i] * v
                n_prev += opens[i] * d
                n_next += answers[i] * d
                n_both += flag_weight[i] * d
                j += 1
                if j == count:
                    j = 0
            r = _r_lag(n, sx, sy, sxx, syy, sxy) if q1 > q0 else np.nan
            rec = _conditional(n_prev, n_both, n_next, n) if q1 > q0 else np.nan
            pseudo_z[c, k] = _fisher_z(r) if r == r else np.nan
            pseudo_rec[c, k] = rec
            _tally(r, observed_r[c], c, tally_r, total_r)
            _tally(rec, observed_rec[c], c, tally_rec, total_rec)


@njit(parallel=True, cache=True, error_model="numpy")
def picked_draw_sums(pseudo_z, pseudo_rec, pick):
    """Corpus-level pseudo-dyad draws: draw b pairs dyad c with candidate ``pick[b, c]`` of ``pseudo_z[c, :]`` (Fisher
    z of r_lag) and ``pseudo_rec[c, :]``. Returns (4, B): the sums over dyads of z, its count, conditional reciprocity
    and its count (as ``_CorpusDraws.add``), summed over fixed blocks of dyads (the same sums whatever the threads)."""
    n_draws, n = pick.shape
    per_block = (n + N_BLOCKS - 1) // N_BLOCKS
    partial = np.zeros((N_BLOCKS, 4, n_draws))
    for block in prange(N_BLOCKS):
        c_first = min(block * per_block, n)
        c_last = min(c_first + per_block, n)
        for b in range(n_draws):
            z_sum = z_count = rec_sum = rec_count = 0.0
            for c in range(c_first, c_last):
                z = np.float64(pseudo_z[c, pick[b, c]])
                defined = z == z
                z_sum += z if defined else 0.0
                z_count += defined
                rec = np.float64(pseudo_rec[c, pick[b, c]])
                defined = rec == rec
                rec_sum += rec if defined else 0.0
                rec_count += defined
            partial[block, 0, b] = z_sum
            partial[block, 1, b] = z_count
            partial[block, 2, b] = rec_sum
            partial[block, 3, b] = rec_count
    return partial.sum(axis=0)


@njit(parallel=True, cache=True, error_model="numpy")
def resample_means(draws, columns):
    """Means of the rows of ``columns`` (k, n) over each row of dyad indices ``draws`` (B, n): a (B, k) matrix, as
    the counts of each dyad in the resample times the columns (one count buffer per block of resamples)."""
    n_resamples, n = draws.shape
    k = columns.shape[0]
    means = np.empty((n_resamples, k))
    n_blocks = min(n_resamples, N_BLOCKS)
    per_block = (n_resamples + n_blocks - 1) // max(n_blocks, 1)
    for block in prange(n_blocks):
        counts = np.empty(n, dtype=np.int32)
        for b in range(block * per_block, min((block + 1) * per_block, n_resamples)):
            counts[:] = 0
            for i in range(n):
                counts[draws[b, i]] += 1
            for j in range(k):
                total = 0.0
                for i in range(n):
                    total += counts[i] * columns[j, i]
                means[b, j] = total / n
    return means
