/* The recurrence loops, compiled once per instruction set and number type (kernel.c includes
 * this file six times with REAL, SUFFIX and the target pragma set). Plain C and GCC vector
 * extensions only: the compiler maps a 64-byte VEC onto one AVX-512 register, two AVX2 ones
 * or four SSE2 ones, so one source serves every target.
 *
 * Shapes (row-major, B rows):
 *   h      (B, K) with row stride ldh          the state the step reads
 *   packed (NP / PW, K, PW)                     W^T (K, N) in panels of PW columns, zero-padded
 *                                               to NP columns (kernel.py packs it once a pass)
 *   out    (B, NP)                              h W^T, the padded columns 0
 */

#define VEC_N (64 / (int)sizeof(REAL))
#define PW (2 * VEC_N)
#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, SUFFIX)
#define VEC FN(vec)
typedef REAL VEC __attribute__((vector_size(64), aligned(sizeof(REAL)), may_alias));

static inline __attribute__((always_inline)) VEC FN(load)(const REAL *p) { return *(const VEC *)p; }
static inline __attribute__((always_inline)) void FN(store)(REAL *p, VEC v) { *(VEC *)p = v; }

/* Store a panel's accumulator of one row: the PW columns at out, or only the first ncols of
 * them (the last panel of an unpadded output), bias added first when given. */
static inline __attribute__((always_inline)) void FN(put)(REAL *out, VEC a0, VEC a1,
                                                          const REAL *bias, ptrdiff_t ncols) {
    if (ncols >= PW) {
        if (bias) a0 += FN(load)(bias), a1 += FN(load)(bias + VEC_N);
        FN(store)(out, a0);
        FN(store)(out + VEC_N, a1);
        return;
    }
    REAL tmp[PW];
    FN(store)(tmp, a0);
    FN(store)(tmp + VEC_N, a1);
    for (ptrdiff_t j = 0; j < ncols; j++) out[j] = bias ? tmp[j] + bias[j] : tmp[j];
}

/* One panel of RB rows: out[r, :] = sum_k h[r, k] w[k, :] (+ bias), RB x 2 vectors of
 * accumulators in registers over the whole k loop. */
#define TILE(RB)                                                                            \
    static void FN(tile##RB)(const REAL *h, ptrdiff_t ldh, const REAL *w, REAL *out,        \
                             ptrdiff_t ldo, ptrdiff_t K, const REAL *bias, ptrdiff_t ncols) { \
        VEC acc0[RB], acc1[RB];                                                             \
        for (int r = 0; r < RB; r++) acc0[r] = acc1[r] = (VEC){0};                          \
        for (ptrdiff_t k = 0; k < K; k++) {                                                 \
            VEC w0 = FN(load)(w + k * PW), w1 = FN(load)(w + k * PW + VEC_N);               \
            for (int r = 0; r < RB; r++) {                                                  \
                REAL hk = h[r * ldh + k];                                                   \
                acc0[r] += hk * w0;                                                         \
                acc1[r] += hk * w1;                                                         \
            }                                                                               \
        }                                                                                   \
        for (int r = 0; r < RB; r++) FN(put)(out + r * ldo, acc0[r], acc1[r], bias, ncols); \
    }
TILE(1)
TILE(2)
#if TILE_ROWS >= 4
TILE(4)
TILE(8)
#endif
#undef TILE

/* One row, four panels at a time: eight independent accumulators hide the FMA latency that a
 * single row's two would expose (a matrix-vector product has no rows to share the loads). */
static void FN(vector4)(const REAL *h, const REAL *packed, REAL *out, ptrdiff_t K,
                        ptrdiff_t p0, ptrdiff_t p1) {
    ptrdiff_t p = p0;
    for (; p + 4 <= p1; p += 4) {
        const REAL *w = packed + p * K * PW;
        VEC a[8];
        for (int q = 0; q < 8; q++) a[q] = (VEC){0};
        for (ptrdiff_t k = 0; k < K; k++) {
            REAL hk = h[k];
            for (int q = 0; q < 4; q++) {
                const REAL *wq = w + q * K * PW + k * PW;
                a[2 * q] += hk * FN(load)(wq);
                a[2 * q + 1] += hk * FN(load)(wq + VEC_N);
            }
        }
        for (int q = 0; q < 8; q++) FN(store)(out + p * PW + q * VEC_N, a[q]);
    }
    for (; p < p1; p++) FN(tile1)(h, 0, packed + p * K * PW, out + p * PW, 0, K, NULL, PW);
}

/* out[:, panels p0..p1) = h W^T (+ bias) for the rows of h, `steps` groups of B rows (row b
 * of group t at h + t * sx + b * ldh; out's row t * B + b, ldo apart, N columns wide, the last
 * panel cut to N): panel by panel, every row of a panel while it is in cache, so W streams once
 * however many rows there are. Each column is summed in k order by one tile, the same bits
 * whichever tile, thread or call computes it. */
static void FN(gemm)(const REAL *h, ptrdiff_t steps, ptrdiff_t sx, ptrdiff_t ldh, ptrdiff_t B,
                     const REAL *packed, REAL *out, ptrdiff_t ldo, ptrdiff_t K, ptrdiff_t N,
                     const REAL *bias, ptrdiff_t p0, ptrdiff_t p1) {
    for (ptrdiff_t p = p0; p < p1; p++) {
        const REAL *w = packed + p * K * PW, *bp = bias ? bias + p * PW : NULL;
        ptrdiff_t ncols = N - p * PW;
        for (ptrdiff_t t = 0; t < steps; t++) {
            const REAL *x = h + t * sx;
            REAL *o = out + t * B * ldo + p * PW;
            ptrdiff_t b = 0;
#if TILE_ROWS >= 4
            for (; b + 8 <= B; b += 8) FN(tile8)(x + b * ldh, ldh, w, o + b * ldo, ldo, K, bp, ncols);
            for (; b + 4 <= B; b += 4) FN(tile4)(x + b * ldh, ldh, w, o + b * ldo, ldo, K, bp, ncols);
#endif
            for (; b + 2 <= B; b += 2) FN(tile2)(x + b * ldh, ldh, w, o + b * ldo, ldo, K, bp, ncols);
            for (; b < B; b++) FN(tile1)(x + b * ldh, ldh, w, o + b * ldo, ldo, K, bp, ncols);
        }
    }
}

/* out (B, NP) = h (B, K) W^T, panels [p0, p1) only (a thread's share). */
static void FN(product)(const REAL *h, ptrdiff_t ldh, ptrdiff_t B, const REAL *packed,
                        REAL *out, ptrdiff_t K, ptrdiff_t NP, ptrdiff_t p0, ptrdiff_t p1) {
    if (B == 1) {
        FN(vector4)(h, packed, out, K, p0, p1);
        return;
    }
    FN(gemm)(h, 1, 0, ldh, B, packed, out, NP, K, NP, NULL, p0, p1);
}

/* The elementwise steps, compiled without contracting a * b + c into one rounding (FMA): each
 * is then exactly the sequence of NumPy operations a hooked step does (cells/kernel.py's
 * Compiled), so a step offered to hooks gives the same bits as a step in the loop. */
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")

/* y[j] = tanh(x[j]) for n values (exposed as tanh() for hooked steps and the tests). */
static void FN(tanh_all)(const REAL *x, REAL *y, ptrdiff_t n) { /* y may be x */
    for (ptrdiff_t j = 0; j < n; j++) y[j] = TANH(x[j]);
}

/* y[j] = tanh(x[j]) * gain[j] + offset[j] for n values: the gates' activations (sigmoid(z) is
 * 0.5 tanh(z / 2) + 0.5, and the sigmoid columns arrive halved). */
static void FN(activate)(REAL *restrict x, const REAL *restrict gain,
                         const REAL *restrict offset, ptrdiff_t n) {
    for (ptrdiff_t j = 0; j < n; j++) x[j] = TANH(x[j]) * gain[j] + offset[j];
}

/* C_t = f C_(t-1) + i g and h_t = o tanh(C_t) for n units (restrict: the compiler vectorizes it
 * without checking for overlap). */
static void FN(cell)(const REAL *restrict i, const REAL *restrict f, const REAL *restrict g,
                     const REAL *restrict o, const REAL *restrict c_prev, REAL *restrict c,
                     REAL *restrict h, ptrdiff_t n) {
    for (ptrdiff_t j = 0; j < n; j++) {
        REAL cj = f[j] * c_prev[j] + i[j] * g[j];
        c[j] = cj;
        h[j] = o[j] * TANH(cj);
    }
}

/* n = tanh(gi_n + add) (into gi_n, what observers see) and h_t = n + z (h_(t-1) - n). */
static void FN(blend)(REAL *restrict gi_n, const REAL *restrict add, const REAL *restrict z,
                      const REAL *restrict h_prev, REAL *restrict h, ptrdiff_t n) {
    for (ptrdiff_t j = 0; j < n; j++) {
        REAL nj = TANH(gi_n[j] + add[j]);
        gi_n[j] = nj;
        h[j] = nj + z[j] * (h_prev[j] - nj);
    }
}

#include "summary.h" /* the records' stats: NumPy's sums, so here, uncontracted */

#pragma GCC pop_options

#include "health.h"

/* Thread tid of nth's share of the panels [0, n): a contiguous run, so each output column is
 * one thread's, summed in the same order whatever the thread count (the same bits). */
static void FN(share)(ptrdiff_t n, int tid, int nth, ptrdiff_t *p0, ptrdiff_t *p1) {
    *p0 = n * tid / nth, *p1 = n * (tid + 1) / nth;
}

/* Thread tid of nth's share of n columns, cut at multiples of a vector: [*j0, *j1). */
static void FN(columns)(ptrdiff_t n, int tid, int nth, ptrdiff_t *j0, ptrdiff_t *j1) {
    ptrdiff_t vecs = (n + VEC_N - 1) / VEC_N;
    *j0 = vecs * tid / nth * VEC_N, *j1 = vecs * (tid + 1) / nth * VEC_N;
    *j0 = *j0 < n ? *j0 : n, *j1 = *j1 < n ? *j1 : n;
}

/* gates x[g * H + u0 .. g * H + u1) += add[...], then their activations, for g < count: a
 * thread's units of each gate, or (all units) the count * H columns in one run. */
static void FN(gates)(REAL *x, const REAL *add, const REAL *gain, const REAL *offset,
                      ptrdiff_t count, ptrdiff_t H, ptrdiff_t u0, ptrdiff_t u1) {
    ptrdiff_t runs = u0 == 0 && u1 == H ? 1 : count, len = runs == 1 ? count * H : u1 - u0;
    for (ptrdiff_t g = 0; g < runs; g++) {
        ptrdiff_t at = g * H + u0;
        for (ptrdiff_t j = 0; j < len; j++) x[at + j] += add[at + j];
        FN(activate)(x + at, gain + at, offset + at, len);
    }
}

/* The product h (B, K) W^T of one step, thread tid's panels, then a barrier. */
static void FN(product_step)(const REAL *h, ptrdiff_t ldh, ptrdiff_t B, const void *packed,
                             REAL *out, ptrdiff_t K, ptrdiff_t NP, int tid, int nth) {
    ptrdiff_t p0, p1;
    FN(share)(NP / PW, tid, nth, &p0, &p1);
    FN(product)(h, ldh, B, (const REAL *)packed, out, K, NP, p0, p1);
    BARRIER(nth);
}

/* The LSTM over n steps of one piece (kernel.c's lstm() has the arguments' shapes), as thread
 * tid of nth (every thread walks the same steps; the rows and panels are shared out):
 *   z_t += h_(t-1) W_hh^T;  [i f g o] = activations of z_t (in place, what observers see)
 *   C_t = f C_(t-1) + i g;  h_t = o tanh(C_t)  (then h_t W_hr^T with a projection) */
static void FN(lstm)(const struct lstm_args *a, int tid, int nth) {
    const ptrdiff_t B = a->batch, H = a->hidden, HO = a->hidden_out, G = 4 * H;
    /* scratch: the gates' product (B, np_hh), o tanh C_t (B, H), the projection's (B, np_hr):
     * the projection gets a part of its own, as it reads `full` while it writes (np_hr may
     * exceed np_hh) */
    REAL *rec = (REAL *)a->scratch, *full = rec + B * a->np_hh, *proj = full + B * H;
    const REAL *h = (const REAL *)a->h0, *c_prev = (const REAL *)a->c0;
    const REAL *gain = (const REAL *)a->gain, *offset = (const REAL *)a->offset;
    ptrdiff_t ldh = a->h0_stride, u0, u1;
    /* the elementwise steps take a share of the units (of every row and gate), so that a
     * thread's gate health reads only what it wrote; a few rows' health is counted a segment
     * of steps at a time, as each segment ends (health_piece) */
    FN(columns)(H, tid, nth, &u0, &u1);
    const int late = a->health.lo && B < 4;
    ptrdiff_t first = a->backward ? a->steps - 1 : 0; /* the segment's first visited step */
    ptrdiff_t bad = 0;                                 /* this thread's NaN and Inf */
    for (ptrdiff_t s = 0; s < a->steps; s++) {
        ptrdiff_t t = a->backward ? a->steps - 1 - s : s;
        REAL *z = (REAL *)a->z + t * B * G, *c = (REAL *)a->cells + t * B * H;
        REAL *y = (REAL *)a->outs + t * a->out_step;
        FN(product_step)(h, ldh, B, a->w_hh, rec, HO, a->np_hh, tid, nth);
        for (ptrdiff_t b = 0; b < B && u1 > u0; b++) { /* this thread's units of every row */
            REAL *zb = z + b * G, *cb = c + b * H;
            const REAL *cp = c_prev + b * H;
            FN(gates)(zb, rec + b * a->np_hh, gain, offset, 4, H, u0, u1);
            REAL *hb = (a->w_hr ? full + b * H : y + b * a->out_row) + u0;
            FN(cell)(zb + u0, zb + H + u0, zb + 2 * H + u0, zb + 3 * H + u0, cp + u0, cb + u0,
                     hb, u1 - u0);
        }
        if (a->health.lo && !late && u1 > u0)
            bad += FN(health_step)(z, B, 4, H, &a->health, a->health.piece[t], u0, u1);
        if (late && u1 > u0)
            bad += FN(health_piece)(a->z, a->steps, a->backward, s, t, &first, B, 4, H,
                                    &a->health, u0, u1);
        BARRIER(nth);
        if (a->w_hr) {  /* h_t = (o tanh C_t) W_hr^T: a product of its own, then copied out */
            FN(product_step)(full, H, B, a->w_hr, proj, H, a->np_hr, tid, nth);
            for (ptrdiff_t b = tid; b < B; b += nth)
                memcpy(y + b * a->out_row, proj + b * a->np_hr, (size_t)HO * sizeof(REAL));
            BARRIER(nth);
        }
        h = y, ldh = a->out_row, c_prev = c;
    }
    if (a->health.lo) FN(health_bad)(&a->health, bad);
}

/* The GRU over n steps of one piece (kernel.c's gru() has the arguments' shapes), as thread
 * tid of nth:
 *   reset_after:  gh = h W_hh^T (3H);  r, z = act(gi + gh);  rh = r (gh_n + b_hn)
 *   otherwise:    gh = h W_hh[rz]^T (2H); r, z as above;  rh = r h;  gi_n += rh W_hn^T
 *   n = tanh(gi_n + rh);  h_t = n + z (h_(t-1) - n) */
static void FN(gru)(const struct gru_args *a, int tid, int nth) {
    const ptrdiff_t B = a->batch, H = a->hidden, G = 3 * H;
    REAL *rec = (REAL *)a->scratch, *rn = rec + B * a->np_hh;
    const REAL *h = (const REAL *)a->h0, *b_hn = (const REAL *)a->b_hn;
    const REAL *gain = (const REAL *)a->gain, *offset = (const REAL *)a->offset;
    ptrdiff_t ldh = a->h0_stride, u0, u1;
    FN(columns)(H, tid, nth, &u0, &u1); /* a share of the units, as in lstm() */
    const int late = a->health.lo && B < 4;
    ptrdiff_t first = a->backward ? a->steps - 1 : 0; /* the segment's first visited step */
    ptrdiff_t bad = 0;                                 /* this thread's NaN and Inf */
    for (ptrdiff_t s = 0; s < a->steps; s++) {
        ptrdiff_t t = a->backward ? a->steps - 1 - s : s;
        REAL *z = (REAL *)a->z + t * B * G, *rh = (REAL *)a->resets + t * B * H;
        REAL *y = (REAL *)a->outs + t * a->out_step;
        FN(product_step)(h, ldh, B, a->w_hh, rec, H, a->np_hh, tid, nth);
        for (ptrdiff_t b = 0; b < B && u1 > u0; b++) { /* this thread's units of every row */
            REAL *zb = z + b * G, *rhb = rh + b * H;
            const REAL *rb = rec + b * a->np_hh, *hp = h + b * ldh;
            FN(gates)(zb, rb, gain, offset, 2, H, u0, u1);
            if (a->w_hn) {
                for (ptrdiff_t j = u0; j < u1; j++) rhb[j] = zb[j] * hp[j];
            } else {
                for (ptrdiff_t j = u0; j < u1; j++) rhb[j] = zb[j] * (rb[2 * H + j] + b_hn[j]);
            }
        }
        BARRIER(nth);
        if (a->w_hn) FN(product_step)(rh, H, B, a->w_hn, rn, H, a->np_hn, tid, nth);
        for (ptrdiff_t b = 0; b < B && u1 > u0; b++) {
            REAL *zb = z + b * G;
            const REAL *add = (a->w_hn ? rn + b * a->np_hn : rh + b * H) + u0;
            FN(blend)(zb + 2 * H + u0, add, zb + H + u0, h + b * ldh + u0,
                      y + b * a->out_row + u0, u1 - u0);
        }
        if (a->health.lo && !late && u1 > u0)
            bad += FN(health_step)(z, B, 3, H, &a->health, a->health.piece[t], u0, u1);
        if (late && u1 > u0)
            bad += FN(health_piece)(a->z, a->steps, a->backward, s, t, &first, B, 3, H,
                                    &a->health, u0, u1);
        BARRIER(nth);
        h = y, ldh = a->out_row;
    }
    if (a->health.lo) FN(health_bad)(&a->health, bad);
}

#undef VEC_N
#undef VEC
#undef PW
#undef CAT
#undef CAT2
#undef FN
