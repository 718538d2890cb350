"""Compiled simulation kernels (Numba): the rules of :mod:`reciprocity.model.simulate`, parallel over dyads.

Used by :func:`reciprocity.model.simulate.simulate_arrays` when Numba is importable (``pip install
reciprocity[numba]``, also named ``sim``); the NumPy engine there is the reference implementation and the fallback, and
``tests/test_model_simulate.py`` checks that both give the same distributions.

* :func:`run_dyads` (k = 2, the common case): ``prange`` over blocks of 512 dyads; per turn, one branch-free loop
  over the block that LLVM vectorises (8 float32 lanes on AVX2). All state of a block lives in one scratch array
  with rows at fixed offsets (so the loop is provably free of dependences); the loops write the outputs directly.
  Random numbers are counter-based: the draw in slot j of turn t of dyad i is
  ``lowbias32(b_i + c_{t,j})`` with ``b_i = triple32(triple32(i ^ key_lo) + key_hi)`` and
  ``c_{t,j} = triple32(key_hi + (16 + 8 t + j) * 0x9E3779B9)`` (32-bit integer hashes by C. Wellons), each
  giving one 24-bit float32 uniform (the topic draw gives two 16-bit ones: topic and stickiness); the depth
  noise is a Box-Muller normal, one pair per two turns (the cosine half at the even turn, the sine half kept
  for the odd one, both from the even turn's slots), and exp / log / cos are float32 polynomials (Cephes) so
  that they vectorise. Topics are drawn by inverse CDF of the layer's topic weights, exactly, through a small
  guide table (:func:`topic_guide`; one scalar lookup per draw between two vectorised passes).
* :func:`run_general` (small groups, k > 2): one thread per block of dyads, scalar, with splitmix64 draws
  ``splitmix64(base_i + (16 + 4 t + j) * GOLDEN)``.

Either way every draw has a fixed address (dyad, turn, slot) whatever the parameters or the branch taken, so
equal seeds give common random numbers across parameter values (as simulated method of moments needs), draws a
turn does not need cost nothing, and results do not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import types
from numba.extending import intrinsic

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S40, _S16 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(40), np.uint64(16)
_LOW24 = np.uint64(0xFFFFFF)
_INV24 = np.float32(1.0 / 16777216.0)
_TWO_PI = np.float32(2.0 * np.pi)
_BLOCK = 64


@njit(inline="always", cache=True, error_model="numpy")
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(inline="always", cache=True, error_model="numpy")
def _draw(base, slot):
    return _mix(base + np.uint64(slot) * _GOLDEN)


@njit(inline="always", cache=True, error_model="numpy")
def _hi(r):
    """Uniform in [0, 1) from the high 24 bits."""
    return np.float32(r >> _S40) * _INV24


@njit(inline="always", cache=True, error_model="numpy")
def _lo(r):
    """Uniform in [0, 1) from the low 24 bits."""
    return np.float32(r & _LOW24) * _INV24


@njit(inline="always", cache=True, error_model="numpy")
def _normal(r):
    """One standard normal (Box-Muller) from one 64-bit draw."""
    u1 = (np.float32(r >> _S40) + np.float32(1.0)) * _INV24      # (0, 1]
    u2 = np.float32(r & _LOW24) * _INV24
    return np.sqrt(np.float32(-2.0) * np.log(u1)) * np.cos(_TWO_PI * u2)


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def run_general(key, n_turns, k, bias, rho, overshoot, pace, depth_shift, comfort_scale, misuse_rate,
        trust0, intimacy0, openness_sd, comfort_mean, comfort_sd, theta, ceiling, willingness,
        depth_noise, premature_rate, premature_turns, withdraw_turn, stickiness, discomfort,
        trust_gain, trust_loss, intimacy_rate, depenetration, severity, lut, lut_size,
        depth_out, topic_out, trust_out, intimacy_out, misuse_out, final_trust, final_intimacy, opened_out):
    n = depth_out.shape[1]
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    f0 = np.float32(0.0)
    f1 = np.float32(1.0)
    half = np.float32(0.5)
    three = np.float32(3.0)
    eps = np.float32(1e-6)
    step_scale = np.float32(pace / (1.0 - theta))
    loss3 = np.float32(trust_loss / 3.0)
    depen = np.float32(0.1 * depenetration)
    shrink = np.float32(1.0 - 0.5 * severity)
    misuse3 = np.float32(misuse_rate / 3.0)
    for b in prange(n_blocks):
        lo = b * _BLOCK
        m = min(lo + _BLOCK, n) - lo
        trust = np.empty((k, _BLOCK), np.float32)
        openness = np.empty((k, _BLOCK), np.float32)
        comfort = np.empty((k, _BLOCK), np.float32)
        last_topic = np.empty((k, _BLOCK), np.int8)
        intimacy = np.empty(_BLOCK, np.float32)
        last_depth = np.zeros(_BLOCK, np.float32)
        opened = np.zeros(_BLOCK, np.int16)
        bases = np.empty(_BLOCK, np.uint64)
        for j in range(m):
            base = _mix(key + np.uint64(lo + j) * _GOLDEN)
            bases[j] = base
            intimacy[j] = intimacy0
            for a in range(k):
                trust[a, j] = trust0
                openness[a, j] = openness_sd * _normal(_draw(base, 2 * a))
                comfort[a, j] = max(comfort_mean + comfort_sd * _normal(_draw(base, 2 * a + 1)), f0)
                last_topic[a, j] = -1
        for t in range(n_turns):
            s = t % k
            q = (s + k - 1) % k
            slot = 16 + 4 * t
            bias_s = bias[s]
            rho_s = rho[s]
            over_rate = overshoot[s]
            if t < premature_turns and s == 0:
                over_rate = min(over_rate + premature_rate, f1)
            withheld = s == 1 and withdraw_turn >= 0 and t >= withdraw_turn
            for j in range(m):
                i = lo + j
                base = bases[j]
                trust_s = trust[s, j]
                inti = intimacy[j]
                d_prev = last_depth[j]
                trust_out[t, i] = trust_s
                intimacy_out[t, i] = inti
                # --- policy
                licensed = min(max(inti + (trust_s - theta) * step_scale, f0), ceiling)
                mu = (f1 - rho_s) * licensed + rho_s * d_prev + depth_shift
                logit = bias_s + openness[s, j] + willingness * (mu - f1)
                p_disclose = f1 / (f1 + np.exp(-logit))
                r0 = _draw(base, slot)
                u_over = _lo(r0)
                over = u_over < over_rate
                disclose = ((_hi(r0) < p_disclose) or over) and not withheld
                depth = f0
                topic = -1
                misused = False
                if disclose:
                    if over:
                        depth = np.float32(2.5) + half * u_over / over_rate
                    else:
                        depth = min(max(mu + depth_noise * _normal(_draw(base, slot + 1)), half), three)
                    layer = 1 if depth < np.float32(1.5) else (2 if depth < np.float32(2.5) else 3)
                    r2 = _draw(base, slot + 2)
                    last = last_topic[s, j]
                    if _lo(r2) < stickiness and last >= 0:
                        topic = last
                    else:
                        topic = lut[layer - 1, int(_hi(r2) * lut_size)]
                    last_topic[s, j] = topic
                    opened[j] |= np.int16(1 << topic)
                    misused = _hi(_draw(base, slot + 3)) < misuse3 * depth
                # --- reactions
                excess = depth - inti
                for a in range(k):
                    if a != s:
                        trust[a, j] -= discomfort * max(excess - comfort[a, j] * comfort_scale, f0)
                matching = f1 - abs(depth - d_prev) / (depth + d_prev + eps)
                delta = -loss3 * max(d_prev - depth, f0)
                if disclose and d_prev > f0:
                    delta += trust_gain * matching * (f1 - trust[q, j])
                    inti += intimacy_rate * matching * (half * (depth + d_prev) - inti)
                if q != s:
                    trust[q, j] += delta
                if misused:
                    trust[s, j] -= severity
                    inti *= shrink
                inti -= depen * max(theta - trust[s, j], f0)
                intimacy[j] = min(max(inti, f0), three)
                for a in range(k):
                    trust[a, j] = min(max(trust[a, j], f0), f1)
                last_depth[j] = depth
                depth_out[t, i] = depth
                topic_out[t, i] = topic
                misuse_out[t, i] = misused
        for j in range(m):
            for a in range(k):
                final_trust[lo + j, a] = trust[a, j]
            final_intimacy[lo + j] = intimacy[j]
            opened_out[lo + j] = opened[j]


# ------------------------------------------------------------------------------------------------
# Dyads (k = 2): a branch-free inner loop over a block of dyads that LLVM vectorises (8 float32 lanes on
# AVX2), with 32-bit hash draws and polynomial exp / log / cos (Cephes-style, float32 accurate).
# ------------------------------------------------------------------------------------------------
@intrinsic
def _as_float(typingctx, x):
    if x != types.uint32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.uint32), codegen


@intrinsic
def _as_bits(typingctx, x):
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.uint32(types.float32), codegen


_U16, _U15, _U23, _U8 = np.uint32(16), np.uint32(15), np.uint32(23), np.uint32(8)
_H1, _H2 = np.uint32(0x7FEB352D), np.uint32(0x846CA68B)
_T1, _T2, _T3 = np.uint32(0xED5AD4BB), np.uint32(0xAC4C1B51), np.uint32(0x31848BAB)
_G32 = np.uint32(0x9E3779B9)
_MANT = np.uint32(0x7FFFFF)
_ONE_BITS = np.uint32(0x3F800000)
_LOW16 = np.uint32(0xFFFF)
_LOW8, _LOW9, _U9 = np.uint32(0xFF), np.uint32(0x1FF), np.uint32(9)
_INV16 = np.float32(1.0 / 65536.0)


@njit(inline="always", cache=True, error_model="numpy")
def _hash32(x):
    """lowbias32 (C. Wellons): a bijective 32-bit integer hash with near-ideal avalanche."""
    x = np.uint32(x)
    x = np.uint32(x ^ (x >> _U16))
    x = np.uint32(x * _H1)
    x = np.uint32(x ^ (x >> _U15))
    x = np.uint32(x * _H2)
    return np.uint32(x ^ (x >> _U16))


@njit(inline="always", cache=True, error_model="numpy")
def _d32(base, counter):
    """The draw at a dyad's base and a (turn, slot) counter hash."""
    return _hash32(np.uint32(base + counter))


@njit(inline="always", cache=True, error_model="numpy")
def _triple32(x):
    x = np.uint32(x)
    x = np.uint32(x ^ (x >> np.uint32(17)))
    x = np.uint32(x * _T1)
    x = np.uint32(x ^ (x >> np.uint32(11)))
    x = np.uint32(x * _T2)
    x = np.uint32(x ^ (x >> np.uint32(15)))
    x = np.uint32(x * _T3)
    return np.uint32(x ^ (x >> np.uint32(14)))


@njit(inline="always", cache=True, error_model="numpy")
def _u24(r):
    return np.float32(np.int32(np.uint32(r) >> _U8)) * _INV24


@njit(inline="always", cache=True, error_model="numpy")
def fast_exp(x):
    """exp for float32 (Cephes expf polynomial, 2^n by exponent bits); x clamped to [-87, 87]."""
    x = min(max(x, np.float32(-87.0)), np.float32(87.0))
    n = np.floor(x * np.float32(1.44269504088896341) + np.float32(0.5))
    r = x - n * np.float32(0.693359375) + n * np.float32(2.12194440e-4)
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    y = p * r * r + r + np.float32(1.0)
    scale = _as_float(np.uint32(np.uint32(np.int32(n) + 127) << _U23))
    return y * scale


@njit(inline="always", cache=True, error_model="numpy")
def fast_log(x):
    """Natural log for positive normal float32 (Cephes logf polynomial)."""
    bits = _as_bits(x)
    e = np.float32(np.int32(bits >> _U23) - 127)
    m = _as_float(np.uint32((bits & _MANT) | _ONE_BITS))                 # [1, 2)
    small = m < np.float32(1.41421356237)
    m = m if small else m * np.float32(0.5)
    e = e if small else e + np.float32(1.0)
    z = m - np.float32(1.0)                                      # [-0.293, 0.414]
    zz = z * z
    p = np.float32(7.0376836292e-2)
    p = p * z - np.float32(1.1514610310e-1)
    p = p * z + np.float32(1.1676998740e-1)
    p = p * z - np.float32(1.2420140846e-1)
    p = p * z + np.float32(1.4249322787e-1)
    p = p * z - np.float32(1.6668057665e-1)
    p = p * z + np.float32(2.0000714765e-1)
    p = p * z - np.float32(2.4999993993e-1)
    p = p * z + np.float32(3.3333331174e-1)
    y = z * zz * p - np.float32(0.5) * zz
    return z + y + e * np.float32(0.693147180559945)


@njit(inline="always", cache=True, error_model="numpy")
def fast_cos_turns(u):
    """cos(2 pi u) for u in [0, 1) (even polynomial on [0, pi/2] after reduction by symmetry)."""
    c = abs(u - np.float32(0.5))                                  # cos(2 pi u) = -cos(2 pi c)
    far = c > np.float32(0.25)
    b = (np.float32(0.5) - c) if far else c                       # [0, 0.25]
    x = b * np.float32(6.283185307179586)
    x2 = x * x
    p = np.float32(-1.0 / 3628800.0)
    p = p * x2 + np.float32(1.0 / 40320.0)
    p = p * x2 - np.float32(1.0 / 720.0)
    p = p * x2 + np.float32(1.0 / 24.0)
    p = p * x2 - np.float32(0.5)
    p = p * x2 + np.float32(1.0)
    return p if far else -p


@njit(inline="always", cache=True, error_model="numpy")
def fast_normal(r1, r2):
    """Box-Muller normal from two 32-bit draws."""
    u1 = (np.float32(np.int32(np.uint32(r1) >> _U8)) + np.float32(1.0)) * _INV24    # (0, 1]
    return np.sqrt(np.float32(-2.0) * fast_log(u1)) * fast_cos_turns(_u24(r2))


_VBLOCK = 512
# rows of the per-block scratch array (float32, row r at offset r * _VBLOCK): one written array with
# compile-time row distances, so that LLVM can prove the inner loop free of dependences and vectorise it.
_TRUST, _OPEN, _COMFORT, _LAST_TOPIC = 0, 2, 4, 6          # two rows each (agent A, agent B)
_INTIMACY, _LAST_DEPTH, _OPENED = 8, 9, 10   # _OPENED holds the int32 bit mask's bits (``_as_float``)
_SPARE = 11                                 # the second Box-Muller normal, for the odd turn
_ROWS = 12
# entries of the float32 parameter vector
(P_PACE_SCALE, P_DEPTH_SHIFT, P_COMFORT_SCALE, P_MISUSE3, P_THETA, P_CEILING, P_WILL, P_NOISE, P_STICK,
 P_DISCOMFORT, P_GAIN, P_LOSS3, P_INT_RATE, P_DEPEN, P_SEVERITY, P_SHRINK) = range(16)


@njit(inline="always", cache=True, error_model="numpy")
def _dyad_turn(st, bases, draws, index, guide, t, ul, depth_out, topic_out, trust_out, intimacy_out, misuse_out,
               m, S, pr, bias_s, rho_s, over_rate, allowed, c0, c1, c2, c3, c4, c5, c6):
    """One turn of speaker S (a literal 0 or 1) for the m dyads of a block; branch-free, vectorisable.

    Writes row t, columns ``ul .. ul + m`` of the outputs straight from the loops (the column index is unsigned:
    no negative-index wraparound, so the stores vectorise with the rest of the loop).
    """
    B = _VBLOCK
    Q = 1 - S
    f0 = np.float32(0.0)
    f1 = np.float32(1.0)
    half = np.float32(0.5)
    three = np.float32(3.0)
    eps = np.float32(1e-6)
    step_scale = pr[P_PACE_SCALE]
    depth_shift = pr[P_DEPTH_SHIFT]
    comfort_scale = pr[P_COMFORT_SCALE]
    misuse3 = pr[P_MISUSE3]
    theta = pr[P_THETA]
    ceiling = pr[P_CEILING]
    willingness = pr[P_WILL]
    depth_noise = pr[P_NOISE]
    stickiness = pr[P_STICK]
    discomfort = pr[P_DISCOMFORT]
    trust_gain = pr[P_GAIN]
    loss3 = pr[P_LOSS3]
    intimacy_rate = pr[P_INT_RATE]
    depen = pr[P_DEPEN]
    severity = pr[P_SEVERITY]
    shrink = pr[P_SHRINK]
    inv_over = half / max(over_rate, np.float32(1e-30))
    allowed_f = f1 if allowed else f0
    for j in range(m):
        b = bases[j]
        trust_s = st[(_TRUST + S) * B + j]
        trust_q = st[(_TRUST + Q) * B + j]
        inti = st[_INTIMACY * B + j]
        d_prev = st[_LAST_DEPTH * B + j]
        trust_out[t, ul + np.uint64(j)] = trust_s
        intimacy_out[t, ul + np.uint64(j)] = inti
        # --- policy
        licensed = min(max(inti + (trust_s - theta) * step_scale, f0), ceiling)
        mu = (f1 - rho_s) * licensed + rho_s * d_prev + depth_shift
        logit = bias_s + st[(_OPEN + S) * B + j] + willingness * (mu - f1)
        p_disclose = f1 / (f1 + fast_exp(-logit))
        u_over = _u24(_d32(b, c1))
        over = u_over < over_rate
        disclose = (_u24(_d32(b, c0)) < p_disclose) | over
        disclose_f = (f1 if disclose else f0) * allowed_f
        if S == 0:      # even turn: a Box-Muller pair from this turn's slots 2, 3; the sine half is the next turn's
            radius = np.sqrt(np.float32(-2.0) * fast_log(
                (np.float32(np.int32(_d32(b, c2) >> _U8)) + f1) * _INV24))
            angle = _u24(_d32(b, c3))
            z = radius * fast_cos_turns(angle)
            quarter = angle + np.float32(0.75)
            st[_SPARE * B + j] = radius * fast_cos_turns(quarter - f1 if quarter >= f1 else quarter)
        else:
            z = st[_SPARE * B + j]
        noisy = min(max(mu + depth_noise * z, half), three)
        depth = (np.float32(2.5) + u_over * inv_over) if over else noisy
        depth = depth * disclose_f
        disclosed = depth > f0
        misused = disclosed & (_u24(_d32(b, c6)) < misuse3 * depth)
        # --- reactions (the listener is also the previous speaker in a dyad)
        trust_q -= discomfort * max(depth - inti - st[(_COMFORT + Q) * B + j] * comfort_scale, f0)
        matching = f1 - abs(depth - d_prev) / (depth + d_prev + eps)
        returned = disclosed & (d_prev > f0)
        delta = -loss3 * max(d_prev - depth, f0)
        delta += (trust_gain * matching * (f1 - trust_q)) if returned else f0
        inti += (intimacy_rate * matching * (half * (depth + d_prev) - inti)) if returned else f0
        trust_q += delta
        trust_s -= severity if misused else f0
        inti = inti * shrink if misused else inti
        inti -= depen * max(theta - trust_s, f0)
        st[_INTIMACY * B + j] = min(max(inti, f0), three)
        st[(_TRUST + S) * B + j] = min(max(trust_s, f0), f1)
        st[(_TRUST + Q) * B + j] = min(max(trust_q, f0), f1)
        st[_LAST_DEPTH * B + j] = depth
        depth_out[t, ul + np.uint64(j)] = depth
        misuse_out[t, ul + np.uint64(j)] = misused
    # topics (they do not feed back into the dynamics): own last topic with prob. stickiness, else drawn from
    # the layer's topic weights by inverse CDF of a 16-bit uniform u, exactly, via a guide table: entry
    # ``layer * 256 + (u >> 8)`` holds the topic at the bucket's start (high bits) and the position of the one
    # CDF boundary inside the bucket (low 9 bits; 256 = none). Three passes: hash and table index (vectorised),
    # the lookups (scalar: gathers do not pay here), then the choice (vectorised).
    for j in range(m):
        r4 = _d32(bases[j], c4)      # one draw, two 16-bit uniforms: the topic (high half), stickiness (low half)
        depth = st[_LAST_DEPTH * B + j]
        layer = np.uint32(depth >= np.float32(1.5)) + np.uint32(depth >= np.float32(2.5))
        draws[j] = r4
        index[j] = np.uint32((layer << _U8) + (r4 >> np.uint32(24)))
    for j in range(m):
        index[j] = guide[index[j]]
    for j in range(m):
        r4 = draws[j]
        depth = st[_LAST_DEPTH * B + j]
        disclosed = depth > f0
        entry = index[j]
        drawn = np.float32(np.int32((entry >> _U9) + np.uint32(((r4 >> _U16) & _LOW8) >= (entry & _LOW9))))
        last = st[(_LAST_TOPIC + S) * B + j]
        keep = (np.float32(np.int32(r4 & _LOW16)) * _INV16 < stickiness) & (last >= f0)
        topic = last if keep else drawn
        topic = topic if disclosed else np.float32(-1.0)
        st[(_LAST_TOPIC + S) * B + j] = topic if disclosed else last
        bit = np.uint32(np.uint32(1) << np.uint32(np.int32(max(topic, f0))))
        st[_OPENED * B + j] = _as_float(np.uint32(_as_bits(st[_OPENED * B + j]) | (bit if disclosed else np.uint32(0))))
        topic_out[t, ul + np.uint64(j)] = np.int8(topic)


def topic_guide(cdf) -> np.ndarray:
    """The guide table of :func:`run_dyads` from the flat (3 x n_topics) cumulative topic probabilities.

    A 16-bit uniform u draws topic ``#{i < n_topics - 1: u >= ceil(cdf_i * 65536)}`` (the inverse CDF of
    ``u / 65536``); entry ``layer * 256 + (u >> 8)`` is ``topic_at_bucket_start << 9 | boundary`` where
    ``boundary`` is the low byte of the one threshold inside the bucket (256 if none). This is the same draw as
    comparing ``u / 65536`` with every float32 ``cdf_i`` (as the kernel did before the table).
    """
    cdf = np.asarray(cdf, np.float32).reshape(3, -1)
    guide = np.empty(3 * 256, np.uint32)
    for layer in range(3):
        thresholds = np.ceil(cdf[layer, :-1].astype(np.float64) * 65536).astype(np.int64)
        for bucket in range(256):
            start = bucket * 256
            inside = thresholds[(thresholds > start) & (thresholds < start + 256)]
            if len(inside) > 1:
                raise ValueError("topic guide table: two topic boundaries within 1/256 (a topic weight too small)")
            below = int(np.sum(thresholds <= start))
            guide[layer * 256 + bucket] = (below << 9) | (int(inside[0] - start) if len(inside) else 256)
    return guide


@njit(inline="always", cache=True, error_model="numpy")
def _counter(key_hi, counter):
    return _triple32(np.uint32(key_hi + np.uint32(counter) * _G32))


@njit(parallel=True, fastmath=True, cache=True, error_model="numpy")
def run_dyads(key, n_turns, bias, rho, overshoot, pr, trust0, intimacy0, openness_sd, comfort_mean, comfort_sd,
              premature_rate, premature_turns, withdraw_turn, guide,
              depth_out, topic_out, trust_out, intimacy_out, misuse_out, final_trust, final_intimacy, opened_out):
    n = depth_out.shape[1]
    n_blocks = (n + _VBLOCK - 1) // _VBLOCK
    B = _VBLOCK
    f0 = np.float32(0.0)
    f1 = np.float32(1.0)
    key_lo = np.uint32(key & np.uint64(0xFFFFFFFF))
    key_hi = np.uint32(key >> np.uint64(32))
    for blk in prange(n_blocks):
        lo = blk * B
        m = min(lo + B, n) - lo
        st = np.zeros(_ROWS * B, np.float32)
        bases = np.empty(B, np.uint32)
        draws = np.empty(B, np.uint32)
        index = np.empty(B, np.uint32)
        for j in range(m):
            b = _triple32(np.uint32(_triple32(np.uint32(lo + j) ^ key_lo) + key_hi))
            bases[j] = b
            st[_INTIMACY * B + j] = intimacy0
            for a in range(2):
                st[(_TRUST + a) * B + j] = trust0
                st[(_OPEN + a) * B + j] = openness_sd * fast_normal(_d32(b, _counter(key_hi, 4 * a + 1)),
                                                                    _d32(b, _counter(key_hi, 4 * a + 2)))
                st[(_COMFORT + a) * B + j] = max(comfort_mean + comfort_sd * fast_normal(
                    _d32(b, _counter(key_hi, 4 * a + 3)), _d32(b, _counter(key_hi, 4 * a + 4))), f0)
                st[(_LAST_TOPIC + a) * B + j] = -1.0
        for t in range(n_turns):
            s = t & 1
            over_rate = overshoot[s]
            if t < premature_turns and s == 0:
                over_rate = min(over_rate + premature_rate, f1)
            allowed = not (s == 1 and withdraw_turn >= 0 and t >= withdraw_turn)
            counter = 16 + 8 * t
            c0 = _counter(key_hi, counter)
            c1 = _counter(key_hi, counter + 1)
            c2 = _counter(key_hi, counter + 2)
            c3 = _counter(key_hi, counter + 3)
            c4 = _counter(key_hi, counter + 4)
            c5 = _counter(key_hi, counter + 5)
            c6 = _counter(key_hi, counter + 6)
            ul = np.uint64(lo)
            if s == 0:
                _dyad_turn(st, bases, draws, index, guide, t, ul, depth_out, topic_out, trust_out, intimacy_out,
                           misuse_out, m, 0, pr, bias[0], rho[0], over_rate, allowed, c0, c1, c2, c3, c4, c5, c6)
            else:
                _dyad_turn(st, bases, draws, index, guide, t, ul, depth_out, topic_out, trust_out, intimacy_out,
                           misuse_out, m, 1, pr, bias[1], rho[1], over_rate, allowed, c0, c1, c2, c3, c4, c5, c6)
        for j in range(m):
            final_trust[lo + j, 0] = st[_TRUST * B + j]
            final_trust[lo + j, 1] = st[(_TRUST + 1) * B + j]
            final_intimacy[lo + j] = st[_INTIMACY * B + j]
            opened_out[lo + j] = np.int16(_as_bits(st[_OPENED * B + j]))


def dyad_parameters(p, e) -> np.ndarray:
    """The float32 parameter vector of :func:`run_dyads` (entries ``P_*``)."""
    pr = np.zeros(16, np.float32)
    pr[P_PACE_SCALE] = e.pace / (1 - p.trust_threshold)
    pr[P_DEPTH_SHIFT] = e.depth_shift
    pr[P_COMFORT_SCALE] = e.comfort_scale
    pr[P_MISUSE3] = e.misuse / 3
    pr[P_THETA] = p.trust_threshold
    pr[P_CEILING] = p.ceiling
    pr[P_WILL] = p.depth_willingness
    pr[P_NOISE] = p.depth_noise
    pr[P_STICK] = p.topic_stickiness
    pr[P_DISCOMFORT] = p.discomfort_penalty
    pr[P_GAIN] = p.trust_gain
    pr[P_LOSS3] = p.trust_loss / 3
    pr[P_INT_RATE] = p.intimacy_rate
    pr[P_DEPEN] = 0.1 * p.depenetration_rate
    pr[P_SEVERITY] = p.betrayal_severity
    pr[P_SHRINK] = 1 - 0.5 * p.betrayal_severity
    return pr
