"""numba kernels: exact Hamming top-k by threshold filtering + counting selection, float top-k selection and
multi-index hashing search.

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
    """Exact top-k of each row of ``scores`` (position space), ties by smaller position; excluded positions
    and padding get position -1 / score -inf."""
    nq, n = scores.shape
    for r in prange(nq):
        row = scores[r]
        for e in range(ex_ptr[r], ex_ptr[r + 1]):
            row[ex_pos[e]] = -np.inf
        n_valid = n - (ex_ptr[r + 1] - ex_ptr[r])
        kk = min(k, n_valid)
        if kk <= 0:
            for o in range(k):
                out_pos[r, o] = -1
                out_s[r, o] = -np.inf
            continue
        part = np.partition(-row, kk - 1)
        v = -part[kk - 1]
        above = 0
        for i in range(n):
            if row[i] > v:
                above += 1
        take_eq = kk - above
        cand = np.empty(kk, dtype=np.int64)
        w = 0
        for i in range(n):
            s = row[i]
            if s > v:
                cand[w] = i
                w += 1
            elif s == v and take_eq > 0:
                cand[w] = i
                w += 1
                take_eq -= 1
        # the excluded (-inf) positions can only be taken when v == -inf; drop them
        keys = np.empty(kk, dtype=np.float64)
        for t in range(kk):
            keys[t] = -row[cand[t]]
        order = np.argsort(keys, kind="mergesort")
        o = 0
        for t in range(kk):
            p = cand[order[t]]
            s = row[p]
            if s == -np.inf:
                continue
            out_pos[r, o] = p
            out_s[r, o] = s
            o += 1
        for t in range(o, k):
            out_pos[r, t] = -1
            out_s[r, t] = -np.inf


@njit(parallel=True, cache=True)
def hamming_topk_2pass(q1, x1, q2, x2, n_words, n_bits, k, ex_ptr, ex_pos, out_pos, out_d):
    """Exact top-k when all items' distances for one query fit in cache: distances into a byte buffer
    (vectorised), excluded items set to 255, a histogram gives the threshold distance T, then one vectorised
    collection pass takes every item below T and the first (smallest-position) ones at T, written directly
    to their sorted slot (counting sort)."""
    single = n_words == 0
    nq = q1.shape[0] if single else q2.shape[0]
    n = x1.shape[0] if single else x2.shape[0]
    n_chunks = min(nq, 64 * max(1, nq // 4096 + 1))
    per = (nq + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        a0 = ch * per
        a1 = min(nq, a0 + per)
        dbuf = np.empty(n, dtype=np.uint8)
        hist = np.zeros((4, 256), dtype=np.int64)
        start = np.empty(n_bits + 2, dtype=np.int64)
        guess = n_bits // 3
        for qi in range(a0, a1):
            hist[:] = 0
            g8 = np.uint8(guess)
            # pass 1: distances into dbuf, histogram of only the items at distance <= guess
            for c0 in range(0, n, 64):
                c1 = min(n, c0 + 64)
                dt = dbuf[c0:c1]
                m = np.uint64(0)
                if single:
                    qc = q1[qi]
                    xt = x1[c0:c1]
                    for j in range(dt.shape[0]):
                        dd = np.uint8(popcount(qc ^ xt[j]))
                        dt[j] = dd
                        m |= np.uint64(dd <= g8) << np.uint64(j)
                else:
                    for j in range(dt.shape[0]):
                        dd = np.uint8(_dist2(q2, qi, x2, c0 + j, n_words))
                        dt[j] = dd
                        m |= np.uint64(dd <= g8) << np.uint64(j)
                while m != 0:
                    j = cttz(m)
                    m &= m - np.uint64(1)
                    hist[0, dt[j]] += 1
            n_ex = 0
            for e in range(ex_ptr[qi], ex_ptr[qi + 1]):
                p = ex_pos[e]
                if dbuf[p] != 255:
                    if dbuf[p] <= g8:
                        hist[0, dbuf[p]] -= 1
                    dbuf[p] = np.uint8(255)
                    n_ex += 1
            below = 0
            for d in range(guess + 1):
                below += hist[0, d]
            g = guess
            step = 1
            while below < k and below < n - n_ex and g < n_bits:
                # the guess was too low: widen it, counting only the newly covered distances
                g_new = min(n_bits, g + step)
                step *= 2
                lo8 = np.uint8(g)
                hi8 = np.uint8(g_new)
                for c0 in range(0, n, 64):
                    dt = dbuf[c0:c0 + 64]
                    m = np.uint64(0)
                    for j in range(dt.shape[0]):
                        m |= np.uint64((dt[j] > lo8) & (dt[j] <= hi8)) << np.uint64(j)
                    while m != 0:
                        j = cttz(m)
                        m &= m - np.uint64(1)
                        hist[0, dt[j]] += 1
                        below += 1
                g = g_new
            cum = 0
            thr = n_bits + 1  # stays past the last distance when fewer than k items are valid
            take_eq = 0
            for d in range(n_bits + 1):
                h = hist[0, d] + hist[1, d] + hist[2, d] + hist[3, d]
                start[d] = cum
                if cum + h >= k:
                    thr = d
                    take_eq = k - cum
                    break
                cum += h
            total = cum + take_eq
            guess = max(0, min(thr, n_bits) - 2)
            thr8 = np.uint8(min(thr, n_bits))
            for c0 in range(0, n, 64):
                dt = dbuf[c0:c0 + 64]
                m = np.uint64(0)
                for j in range(dt.shape[0]):
                    m |= np.uint64(dt[j] <= thr8) << np.uint64(j)
                while m != 0:
                    j = cttz(m)
                    m &= m - np.uint64(1)
                    d = np.int64(dt[j])
                    if d == thr:
                        if take_eq == 0:
                            continue
                        take_eq -= 1
                    o = start[d]
                    start[d] += 1
                    out_pos[qi, o] = c0 + j
                    out_d[qi, o] = d
            for o in range(total, k):
                out_pos[qi, o] = -1
                out_d[qi, o] = -1


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



@njit(cache=True, inline="always")
def _count4(qc, x1, g):
    """Numbers of items at distance <= g, g+1, g+2, g+3 from ``qc`` (one vectorised pass)."""
    c0 = np.int32(0)
    c1 = np.int32(0)
    c2 = np.int32(0)
    c3 = np.int32(0)
    g0 = np.int32(g)
    g1 = np.int32(g + 1)
    g2 = np.int32(g + 2)
    g3 = np.int32(g + 3)
    for j in range(x1.shape[0]):
        d = np.int32(popcount(qc ^ x1[j]))
        c0 += np.int32(d <= g0)
        c1 += np.int32(d <= g1)
        c2 += np.int32(d <= g2)
        c3 += np.int32(d <= g3)
    return np.int64(c0), np.int64(c1), np.int64(c2), np.int64(c3)


@njit(parallel=True, cache=True)
def hamming_topk_hist(q1, x1, n_bits, k, ex_ptr, ex_pos, qblock, iblock, out_pos, out_d):
    """Exact top-k for single-word codes (``q1``/``x1`` uint32 or uint64): find the threshold, then collect.

    1. Threshold search: the k-th smallest distance ``T`` of a query (excluded items not counted) is found
       with vectorised counting passes, each counting the items at distance ``<= g .. g+3`` (a window of
       four thresholds costs little more than one pass). The window starts just below the previous query's
       ``T`` and moves until ``count(T - 1) < k <= count(T)``; usually one or two passes.
    2. Collection: one vectorised pass writes a byte flag ``distance <= T`` per item; the flags are scanned
       8 per uint64 word and the few set ones visited in position order, so the buffer takes every
       non-excluded item below ``T`` and the first
       ``k - count(T - 1)`` ones at ``T`` (the smallest positions: the tie rule); the limit drops to
       ``T - 1`` once that quota is full and the pass stops once ``k`` items are held.
    3. A stable counting sort of those ``<= k`` items by distance writes the output.

    ``iblock`` is unused (kept for the signature of the blocked kernels); ``qblock`` queries per task.
    """
    nq = q1.shape[0]
    n = x1.shape[0]
    hb = n_bits + 1
    n_qblocks = (nq + qblock - 1) // qblock
    for b in prange(n_qblocks):
        q0 = b * qblock
        q1_ = min(nq, q0 + qblock)
        bp = np.empty(k, dtype=np.int64)
        bd = np.empty(k, dtype=np.int64)
        hist = np.zeros(hb + 1, dtype=np.int64)
        n_fw = (n + 7) // 8
        flags = np.zeros(n_fw * 8, dtype=np.uint8)  # the tail bytes stay 0
        fw = flags.view(np.uint64)
        guess = n_bits // 4
        for qi in range(q0, q1_):
            qc = q1[qi]
            e0 = ex_ptr[qi]
            e1 = ex_ptr[qi + 1]
            # --- 1. threshold: lo = largest g known with count(g) < k (-1: none), hi = smallest known
            # with count(g) >= k (hb: none)
            lo = -1
            c_lo = 0
            hi = hb
            g = min(max(guess, 0), n_bits - 3)
            while True:
                c0, c1, c2, c3 = _count4(qc, x1, g)
                for e in range(e0, e1):
                    d = np.int64(popcount(qc ^ x1[ex_pos[e]]))
                    if d <= g:
                        c0 -= 1
                    if d <= g + 1:
                        c1 -= 1
                    if d <= g + 2:
                        c2 -= 1
                    if d <= g + 3:
                        c3 -= 1
                cs = (c0, c1, c2, c3)
                for u in range(4):
                    c = cs[u]
                    if c >= k:
                        if g + u < hi:
                            hi = g + u
                        break
                    if g + u > lo:
                        lo = g + u
                        c_lo = c
                if hi == lo + 1 or lo >= n_bits:
                    break
                if hi == hb:  # all four below k: move up
                    g = min(lo + 1, n_bits - 3)
                else:  # move down, just below hi
                    g = max(lo + 1, hi - 4)
                    g = min(g, n_bits - 3)
            if lo >= n_bits:  # fewer than k valid items: take them all
                T = n_bits
                quota = np.int64(1) << 62
                total = c_lo
            else:
                T = hi
                quota = k - c_lo
                total = k
            guess = T - 1
            # --- 2. collection in position order: flags (vectorised), then the set bytes, 8 per word
            lim = np.int32(T)
            for j in range(n):
                flags[j] = np.uint8(np.int32(popcount(qc ^ x1[j])) <= lim)
            cnt = 0
            e = e0
            for t in range(n_fw):
                m = fw[t]
                while m != 0:
                    i = t * 8 + (cttz(m) >> 3)
                    m &= m - np.uint64(1)
                    d = np.int64(popcount(qc ^ x1[i]))
                    if d > lim:
                        continue
                    if e < e1:
                        while e < e1 and ex_pos[e] < i:
                            e += 1
                        if e < e1 and ex_pos[e] == i:
                            continue
                    if d == T:
                        quota -= 1
                        if quota == 0:
                            lim = np.int32(T - 1)
                    bp[cnt] = i
                    bd[cnt] = d
                    cnt += 1
                if cnt >= total:
                    break
            # --- 3. stable counting sort by distance
            hist[:] = 0
            for t in range(cnt):
                hist[bd[t] + 1] += 1
            for d in range(1, hb + 1):
                hist[d] += hist[d - 1]
            for t in range(cnt):
                d = bd[t]
                o = hist[d]
                hist[d] = o + 1
                out_pos[qi, o] = bp[t]
                out_d[qi, o] = d
            for o in range(cnt, k):
                out_pos[qi, o] = -1
                out_d[qi, o] = -1
