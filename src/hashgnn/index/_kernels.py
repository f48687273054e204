"""numba kernels: exact Hamming top-k (a plane scan into a byte buffer + threshold selection, and a streaming
scan for large catalogues), float top-k selection and multi-index hashing search.

All kernels work in *position space*: items are stored in tie-rank order, so "smaller position wins" is the
shared tie rule. Exclusion lists are per-query sorted position arrays in CSR form (``ex_ptr``, ``ex_pos``).
Outputs are positions (``-1`` padding) and distances / scores.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.core import types
from numba.extending import intrinsic


@intrinsic
def popcount(typingctx, x):
    """LLVM ``ctpop`` on an unsigned integer (vectorises to vpopcnt where available)."""
    if not isinstance(x, types.Integer):
        return None
    sig = x(x)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


BIG = 256  # items per vectorised "any below the limit?" test


@intrinsic
def cttz(typingctx, x):
    """Count trailing zeros (index of the lowest set bit) of a non-zero unsigned integer."""
    if not isinstance(x, types.Integer):
        return None
    sig = types.int64(x)

    def codegen(context, builder, signature, args):
        import llvmlite.ir as ir

        r = builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))
        return builder.zext(r, ir.IntType(64)) if r.type.width < 64 else r

    return sig, codegen


@njit(cache=True, inline="always")
def _dist2(q2, qi, x2, i, n_words):
    d = np.int64(0)
    for w in range(n_words):
        d += np.int64(popcount(q2[qi, w] ^ x2[i, w]))
    return d


@njit(cache=True)
def _compact(bp, bd, cnt, k, hist):
    """Keep the best ``k`` of ``cnt`` buffered (position-ordered) candidates; return the new strict limit."""
    hist[:] = 0
    for t in range(cnt):
        hist[bd[t]] += 1
    cum = 0
    thr = 0
    for d in range(hist.shape[0]):
        if cum + hist[d] >= k:
            thr = d
            break
        cum += hist[d]
    take_eq = k - cum
    w = 0
    for t in range(cnt):
        d = bd[t]
        if d < thr or (d == thr and take_eq > 0):
            if d == thr:
                take_eq -= 1
            bp[w] = bp[t]
            bd[w] = d
            w += 1
    return w, thr


@njit(cache=True)
def _finish(bp, bd, cnt, k, hist, out_pos, out_d, row):
    """Stable counting sort of the buffer by distance (positions stay ascending within a distance)."""
    if cnt > k:
        cnt, _ = _compact(bp, bd, cnt, k, hist)
    hist[:] = 0
    for t in range(cnt):
        hist[bd[t] + 1] += 1
    for d in range(1, hist.shape[0]):
        hist[d] += hist[d - 1]
    for t in range(cnt):
        d = bd[t]
        o = hist[d]
        hist[d] += 1
        out_pos[row, o] = bp[t]
        out_d[row, o] = d
    for o in range(cnt, k):
        out_pos[row, o] = -1
        out_d[row, o] = -1


@njit(parallel=True, cache=True)
def hamming_topk(q1, x1, q2, x2, n_words, n_bits, k, ex_ptr, ex_pos, qblock, iblock, out_pos, out_d):
    """Exact top-k (smallest distance, then smallest position) for every query.

    ``n_words == 0`` selects the single-word path (``q1``/``x1`` 1-D arrays of uint32/uint64); otherwise the
    multi-word path over ``q2``/``x2`` ``[n, n_words]``. Per query a buffer collects items whose distance is
    below the running limit; when full, a counting selection keeps the best ``k`` and tightens the limit.
    Items are scanned in position order, so an item tying with the current k-th one never displaces it.

    Not split: the per-query scan state (count, limit, exclusion cursor, density flag) is read and written in the
    innermost loops of Hamming search's hot path, and helpers would take it in and hand it back (a call and a
    tuple) for every 256-item block of every query, a cost no benchmark here has shown to be free.
    """
    single = n_words == 0
    nq = q1.shape[0] if single else q2.shape[0]
    n = x1.shape[0] if single else x2.shape[0]
    cap = max(4 * k, 256)
    n_qblocks = (nq + qblock - 1) // qblock
    for b in prange(n_qblocks):
        q0 = b * qblock
        q1_ = min(nq, q0 + qblock)
        nb = q1_ - q0
        bp = np.empty((nb, cap), dtype=np.int32)
        bd = np.empty((nb, cap), dtype=np.int32)
        cnt = np.zeros(nb, dtype=np.int64)
        lim = np.full(nb, n_bits + 1, dtype=np.int64)
        dense = np.ones(nb, dtype=np.bool_)
        eptr = np.empty(nb, dtype=np.int64)
        for t in range(nb):
            eptr[t] = ex_ptr[q0 + t]
        hist = np.empty(n_bits + 2, dtype=np.int64)
        for i0 in range(0, n, iblock):
            i1 = min(n, i0 + iblock)
            for t in range(nb):
                qi = q0 + t
                L = lim[t]
                c = cnt[t]
                ep = eptr[t]
                eend = ex_ptr[qi + 1]
                if single:
                    qc = q1[qi]
                    xb = x1[i0:i1]
                    nsub = 0
                    nhit = 0
                    for s0 in range(0, i1 - i0, BIG):
                        xs = xb[s0:s0 + BIG]
                        nsub += 1
                        L32 = np.int32(L)
                        if not dense[t]:
                            hit = np.int32(0)
                            for j in range(xs.shape[0]):
                                hit += np.int32(popcount(qc ^ xs[j])) < L32
                            if hit == 0:
                                continue
                        any_hit = False
                        for c0 in range(0, xs.shape[0], 64):
                            xt = xs[c0:c0 + 64]
                            L32 = np.int32(L)
                            m = np.uint64(0)
                            for j in range(xt.shape[0]):
                                m |= np.uint64(np.int32(popcount(qc ^ xt[j])) < L32) << np.uint64(j)
                            if m != 0:
                                any_hit = True
                            while m != 0:
                                j = cttz(m)
                                m &= m - np.uint64(1)
                                i = i0 + s0 + c0 + j
                                d = np.int64(popcount(qc ^ x1[i]))
                                if d >= L:
                                    continue
                                while ep < eend and ex_pos[ep] < i:
                                    ep += 1
                                if ep < eend and ex_pos[ep] == i:
                                    continue
                                bp[t, c] = i
                                bd[t, c] = d
                                c += 1
                                if c == cap:
                                    c, L = _compact(bp[t], bd[t], c, k, hist)
                        if any_hit:
                            nhit += 1
                    dense[t] = 2 * nhit > nsub
                else:
                    for i in range(i0, i1):
                        d = _dist2(q2, qi, x2, i, n_words)
                        if d < L:
                            while ep < eend and ex_pos[ep] < i:
                                ep += 1
                            if ep < eend and ex_pos[ep] == i:
                                continue
                            bp[t, c] = i
                            bd[t, c] = d
                            c += 1
                            if c == cap:
                                c, L = _compact(bp[t], bd[t], c, k, hist)
                lim[t] = L
                cnt[t] = c
                eptr[t] = ep
        for t in range(nb):
            _finish(bp[t], bd[t], cnt[t], k, hist, out_pos, out_d, q0 + t)


@njit(parallel=True, cache=True)
def float_topk(scores, k, ex_ptr, ex_pos, out_pos, out_s):
    """Exact top-k of each row of ``scores`` (position space), ties by smaller position; excluded positions,
    -inf/NaN scores and padding get position -1 / score -inf.

    One pass per row with an admission threshold (the k-th best score kept so far) instead of a full
    partition of the row: after the first few hundred items almost every score fails one comparison, which
    is what makes validating a 40k-item catalogue every few epochs cheap."""
    nq, n = scores.shape
    for r in prange(nq):
        row = scores[r]
        for e in range(ex_ptr[r], ex_ptr[r + 1]):
            row[ex_pos[e]] = -np.inf
        cap = max(8 * k, 512)
        bp = np.empty(cap, dtype=np.int64)
        bs = np.empty(cap, dtype=np.float32)
        c = 0
        limit = -np.inf  # admit only scores above it: a later position never wins a tie
        for i in range(n):
            s = row[i]
            if s > limit:
                bp[c] = i
                bs[c] = s
                c += 1
                if c == cap:
                    c, limit = _keep_top_scores(bp, bs, c, k)
        if c > k:
            c, limit = _keep_top_scores(bp, bs, c, k)
        order = np.argsort(-bs[:c], kind="mergesort")  # stable: equal scores stay in position order
        for t in range(c):
            out_pos[r, t] = bp[order[t]]
            out_s[r, t] = bs[order[t]]
        for t in range(c, k):
            out_pos[r, t] = -1
            out_s[r, t] = -np.inf


@njit(cache=True)
def _keep_top_scores(bp, bs, c, k):
    """Compact the buffer (in position order) to its best ``k`` — everything above the k-th score and the
    first-positioned of those equal to it — keeping position order; returns the new count and the k-th score
    (the admission threshold from now on)."""
    kth = np.partition(-bs[:c], k - 1)[k - 1]
    v = -kth
    above = 0
    for t in range(c):
        if bs[t] > v:
            above += 1
    take_eq = k - above
    w = 0
    for t in range(c):
        s = bs[t]
        if s == v:
            if take_eq == 0:
                continue
            take_eq -= 1
        elif s < v:
            continue
        bp[w] = bp[t]
        bs[w] = s
        w += 1
    return w, v


@njit(cache=True, inline="always")
def _is_excluded(ex_pos, lo, hi, p):
    end = hi
    while lo < hi:
        mid = (lo + hi) >> 1
        if ex_pos[mid] < p:
            lo = mid + 1
        else:
            hi = mid
    return lo < end and ex_pos[lo] == p


@njit(cache=True)
def _kth(hist, k):
    """Smallest distance T with at least k found items at distance <= T (len(hist) - 1 if none)."""
    cum = 0
    for d in range(hist.shape[0]):
        cum += hist[d]
        if cum >= k:
            return d
    return hist.shape[0] - 1


@njit(cache=True)
def _keep_best(bp, bd, c, k):
    keys = np.empty(c, dtype=np.int64)
    for u in range(c):
        keys[u] = bd[u] * (np.int64(1) << 40) + bp[u]
    order = np.argsort(keys)[:k]
    sp_ = bp[order]
    sd_ = bd[order]
    bp[:k] = sp_
    bd[:k] = sd_
    return k


@njit(parallel=True, cache=True)
def mih_topk(qw, qkeys, n_bits, k, sub_len, sub_mask, offsets, tab_pos, tab_codes, ex_ptr, ex_pos,
             out_pos, out_d):
    """Exact k-NN by multi-index hashing (Norouzi et al. 2012).

    Substring ``j`` of every item is a key into table ``j`` (``offsets[j]`` / ``tab_pos[j]`` /
    ``tab_codes[j]``, items grouped by key). For radius s = 0, 1, ... and substring j = 0..m-1 the buckets at
    exactly substring distance s from the query are scanned; an item counts only at its first discovery
    (s = its smallest substring distance, j = the first substring reaching it), so no visited set is needed.
    After step (s, j) every item within full distance m*s + j has been seen (pigeonhole), so the search stops
    once k valid items lie within that bound. Ties are then resolved by position.

    Not split: the bucket scan updates the per-query state (buffer, count, histogram, found, limit) from its
    innermost loop and the radius loop's early exit reads it, so helpers would take it in and hand it back once
    per bucket probed, the step this search repeats most, a cost no benchmark here has shown to be free.
    """
    nq = qw.shape[0]
    m = sub_len.shape[0]
    n_words = qw.shape[1]
    max_len = 0
    for j in range(m):
        max_len = max(max_len, sub_len[j])
    n_chunks = min(nq, 256)
    per = (nq + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        a0 = ch * per
        a1 = min(nq, a0 + per)
        cap = max(4 * k, 256)
        bp = np.empty(cap, dtype=np.int64)
        bd = np.empty(cap, dtype=np.int64)
        hist = np.zeros(n_bits + 1, dtype=np.int64)
        for qi in range(a0, a1):
            hist[:] = 0
            c = 0
            found = 0
            limit = n_bits
            e0 = ex_ptr[qi]
            e1 = ex_ptr[qi + 1]
            done = False
            for s in range(max_len + 1):
                for j in range(m):
                    blen = sub_len[j]
                    if s <= blen:
                        v = (np.int64(1) << s) - 1
                        top = np.int64(1) << blen
                        while v < top:
                            key = qkeys[qi, j] ^ v
                            for t in range(offsets[j, key], offsets[j, key + 1]):
                                d = 0
                                for w in range(n_words):
                                    d += popcount(qw[qi, w] ^ tab_codes[j, t, w])
                                if d > limit:
                                    continue
                                first = True
                                for jj in range(m):
                                    if jj == j:
                                        continue
                                    dj = 0
                                    for w in range(n_words):
                                        dj += popcount((qw[qi, w] ^ tab_codes[j, t, w]) & sub_mask[jj, w])
                                    if dj < s or (dj == s and jj < j):
                                        first = False
                                        break
                                if not first:
                                    continue
                                p = tab_pos[j, t]
                                if e1 > e0 and _is_excluded(ex_pos, e0, e1, p):
                                    continue
                                hist[d] += 1
                                found += 1
                                if c == cap:
                                    # keep the best k by (distance, position): nothing else can make it
                                    c = _keep_best(bp, bd, c, k)
                                    limit = bd[k - 1]
                                    if d > limit or (d == limit and p > bp[k - 1]):
                                        continue
                                bp[c] = p
                                bd[c] = d
                                c += 1
                            if s == 0:
                                break
                            lowbit = v & -v
                            r = v + lowbit
                            v = (((r ^ v) >> 2) // lowbit) | r
                    if found >= k:
                        limit = _kth(hist, k)
                        if limit <= m * s + j:
                            done = True
                            break
                if done:
                    break
            # final: candidates with d <= limit sorted by (distance, position)
            keys = np.empty(c, dtype=np.int64)
            for u in range(c):
                keys[u] = bd[u] * (np.int64(1) << 40) + bp[u] if bd[u] <= limit else np.int64(1) << 62
            order = np.argsort(keys)
            o = 0
            for u in range(min(c, k)):
                t = order[u]
                if bd[t] > limit:
                    break
                out_pos[qi, o] = bp[t]
                out_d[qi, o] = bd[t]
                o += 1
            for u in range(o, k):
                out_pos[qi, u] = -1
                out_d[qi, u] = -1



# --------------------------------------------------------------------------------------------------------------
# Plane kernel: distances of one query to every item into a byte buffer, then threshold selection on the bytes.

MASK_WIDTH = 64  # bytes per vector compare of :func:`le_mask64`; buffers are padded to a multiple of it
SAMPLE = 512  # strided distances per query that estimate the threshold distance
DIST_BLOCK = 4096  # items per block of the distance pass: the block's bytes stay in L1 across the planes


@intrinsic
def le_mask64(typingctx, buf, start, t):
    """Bit ``j`` set iff ``buf[start + j] <= t`` (unsigned bytes), for 64 bytes at once.

    Written as one LLVM vector compare because the loop vectoriser does not turn a 64-step shift-or loop into
    it: this lowers to vpcmpub + kmovq with AVX-512BW and to two vpcmpeqb/vpmovmskb pairs with AVX2.
    """
    if not (isinstance(buf, types.Array) and buf.dtype == types.uint8 and isinstance(start, types.Integer)
            and isinstance(t, types.Integer)):
        return None
    sig = types.uint64(buf, start, t)

    def codegen(context, builder, signature, args):
        import llvmlite.ir as ir

        i8 = ir.IntType(8)
        vec = ir.VectorType(i8, MASK_WIDTH)
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        v = builder.load(builder.bitcast(ptr, vec.as_pointer()), align=1)
        tb = builder.trunc(args[2], i8)
        one = builder.insert_element(ir.Constant(vec, None), tb, ir.Constant(ir.IntType(32), 0))
        splat = builder.shuffle_vector(one, ir.Constant(vec, None), ir.Constant(ir.VectorType(ir.IntType(32),
                                                                                               MASK_WIDTH), None))
        le = builder.icmp_unsigned("<=", v, splat)
        return builder.bitcast(le, ir.IntType(MASK_WIDTH))

    return sig, codegen


@njit(cache=True)
def _plane_distances(qp, qi, xp, dbuf, n):
    """``dbuf[j] = popcount(q ^ x_j)`` summed over the planes (vectorised; one plane pass per block)."""
    n_planes = xp.shape[0]
    for b0 in range(0, n, DIST_BLOCK):
        b1 = min(n, b0 + DIST_BLOCK)
        d = dbuf[b0:b1]
        qv = qp[qi, 0]
        xv = xp[0, b0:b1]
        for j in range(b1 - b0):
            d[j] = np.uint8(popcount(qv ^ xv[j]))
        for p in range(1, n_planes):
            qv = qp[qi, p]
            xv = xp[p, b0:b1]
            for j in range(b1 - b0):
                d[j] = np.uint8(d[j] + np.uint8(popcount(qv ^ xv[j])))


@njit(cache=True)
def _guess_limit(dbuf, n, n_bits, target, hist):
    """Smallest distance g whose strided-sample count, scaled to ``n`` items, reaches ``target`` (else
    ``n_bits``): a starting limit for :func:`_collect`, which corrects it either way."""
    hist[:] = 0
    stride = max(1, n // SAMPLE)
    m = 0
    for i in range(0, n, stride):
        d = dbuf[i]
        if d <= n_bits:
            hist[d] += 1
        m += 1
    cum = 0
    for g in range(n_bits + 1):
        cum += hist[g]
        if cum * n >= target * m:
            return g
    return n_bits


@njit(cache=True)
def _shrink(cp, cd, c, k, hist):
    """Keep the first ``k`` of ``c`` (>= k) position-ordered candidates by distance; return the new inclusive
    limit. Items after them tie with the k-th at best, and then lose on position, so the limit is ``T - 1``."""
    t = _kth(hist, k)
    below = 0
    for d in range(t):
        below += hist[d]
    quota = k - below
    hist[:] = 0
    w = 0
    for u in range(c):
        d = cd[u]
        if d < t or (d == t and quota > 0):
            if d == t:
                quota -= 1
            cp[w] = cp[u]
            cd[w] = d
            hist[d] += 1
            w += 1
    return t - 1


@njit(cache=True)
def _collect(dbuf, n_pad, g, k, cap, cp, cd, hist):
    """Candidates with distance <= g in position order (``cp``/``cd``, their histogram in ``hist``), via one
    vector compare per 64 bytes. Past ``cap`` candidates only the best ``k`` are kept and the limit drops, so a
    too-high starting limit costs little. Returns (number held, whether the limit was lowered)."""
    hist[:] = 0
    c = 0
    shrunk = False
    for c0 in range(0, n_pad, MASK_WIDTH):
        m = le_mask64(dbuf, c0, g)
        while m != 0:
            i = c0 + cttz(m)
            m &= m - np.uint64(1)
            d = dbuf[i]
            cp[c] = i
            cd[c] = d
            hist[d] += 1
            c += 1
        if c >= cap:
            g = _shrink(cp, cd, c, k, hist)
            c = k
            shrunk = True
            if g < 0:
                break
    return c, shrunk


@njit(cache=True)
def _emit(cp, cd, c, k, hist, start, out_pos, out_d, row):
    """Write the best ``min(c, k)`` of the position-ordered candidates sorted by (distance, position): a
    counting sort, stable, so ties keep position order."""
    t = _kth(hist, k) if c > k else hist.shape[0] - 1
    cum = 0
    for d in range(hist.shape[0]):
        start[d] = cum
        cum += hist[d]
    quota = k - start[t] if c > k else c
    total = 0
    for u in range(c):
        d = cd[u]
        if d > t or (d == t and quota == 0):
            continue
        if d == t:
            quota -= 1
        o = start[d]
        start[d] = o + 1
        out_pos[row, o] = cp[u]
        out_d[row, o] = d
        total += 1
    for o in range(total, k):
        out_pos[row, o] = -1
        out_d[row, o] = -1


@njit(cache=True)
def _select_row(dbuf, n, n_pad, n_bits, k, cap, cp, cd, hist, start, out_pos, out_d, row):
    g = _guess_limit(dbuf, n, n_bits, 2 * k, hist)
    step = 2
    while True:
        c, shrunk = _collect(dbuf, n_pad, g, k, cap, cp, cd, hist)
        if c >= k or shrunk or g >= n_bits:
            break
        g = min(n_bits, g + step)  # too few within g: widen and collect again
        step *= 2
    _emit(cp, cd, c, k, hist, start, out_pos, out_d, row)


@njit(parallel=True, cache=True)
def hamming_topk_planes(qp, xp, n_bits, k, ex_ptr, ex_pos, out_pos, out_d):
    """Exact top-k (smallest distance, then smallest position) of every query against items stored as bit
    planes: ``xp[p, i]`` is word ``p`` of item ``i`` (uint8 / uint32 / uint64 words), ``qp[q, p]`` likewise.

    Per query: the distances to all items go to a byte buffer (one vectorised pass per plane; n_bits <= 248
    keeps them below 255), excluded items are set to 255, a strided sample guesses a limit near the k-th
    distance, and one vector compare per 64 bytes collects the items within it in position order; a counting
    sort of those writes the output, ties in position order. Selection costs a few operations per candidate
    instead of per item.
    """
    nq = qp.shape[0]
    n = xp.shape[1]
    n_pad = (n + MASK_WIDTH - 1) // MASK_WIDTH * MASK_WIDTH
    cap = max(4 * k, 1024)
    n_chunks = min(nq, 64 * max(1, nq // 4096 + 1))
    per = (nq + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        dbuf = np.full(n_pad, 255, dtype=np.uint8)  # the padding stays 255: never within a limit
        cp = np.empty(cap + MASK_WIDTH, dtype=np.int64)
        cd = np.empty(cap + MASK_WIDTH, dtype=np.uint8)
        hist = np.zeros(n_bits + 1, dtype=np.int64)
        start = np.zeros(n_bits + 1, dtype=np.int64)
        for qi in range(ch * per, min(nq, ch * per + per)):
            _plane_distances(qp, qi, xp, dbuf, n)
            for e in range(ex_ptr[qi], ex_ptr[qi + 1]):
                dbuf[ex_pos[e]] = np.uint8(255)
            _select_row(dbuf, n, n_pad, n_bits, k, cap, cp, cd, hist, start, out_pos, out_d, qi)
