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

/* NumPy's pairwise sum (numpy/_core/src/umath/loops_utils.h.src) of n terms in double:
 * sequential below 8, eight accumulators up to 128, halves beyond (np.sum then adds it to
 * its initial 0). Every operation rounded as NumPy's are (no contraction here), so a row's
 * stats are the NumPy path's, bit for bit. FN(sum) sums the values, FN(squares) their
 * squares about mean. */
#define PAIRWISE(NAME, TERM)                                                                  \
    static double NAME(const REAL *a, ptrdiff_t n, double mean) {                             \
        (void)mean;                                                                           \
        if (n < 8) {                                                                          \
            double res = 0.;                                                                  \
            for (ptrdiff_t i = 0; i < n; i++) res += TERM(i);                                 \
            return res;                                                                       \
        }                                                                                     \
        if (n <= 128) {                                                                       \
            double r[8];                                                                      \
            for (int q = 0; q < 8; q++) r[q] = TERM(q);                                       \
            ptrdiff_t i = 8;                                                                  \
            for (; i < n - (n % 8); i += 8)                                                   \
                for (int q = 0; q < 8; q++) r[q] += TERM(i + q);                              \
            double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7])); \
            for (; i < n; i++) res += TERM(i);                                                \
            return res;                                                                       \
        }                                                                                     \
        ptrdiff_t n2 = n / 2;                                                                 \
        n2 -= n2 % 8;                                                                         \
        return NAME(a, n2, mean) + NAME(a + n2, n - n2, mean);                                \
    }
#define VALUE(i) ((double)a[i])
#define SQUARE(i) (((double)a[i] - mean) * ((double)a[i] - mean))
PAIRWISE(FN(sum), VALUE)
PAIRWISE(FN(squares), SQUARE)
#undef VALUE
#undef SQUARE
#undef PAIRWISE

/* summary.stats_rows of rows [r0, r1) of x (row r at x + r * ld, m values) into columns
 * start + r * step of out (4, N): out[k * N + start + r * step] = min, max, mean, std (k = 0
 * to 3; population, two passes) in double; returns the number of rows marked: NaN in all four
 * for a row whose sum is
 * not finite (a NaN or an Inf in it, or float64 values whose sum overflows) and for one whose
 * min or max is a zero and that holds a -0 (which of -0 and +0 NumPy's min returns depends
 * on its lanes' order): the caller's NumPy path does those. The extremes in 16 lanes (any
 * order: exact, but for the sign of a zero). */
static ptrdiff_t FN(stats)(const REAL *x, ptrdiff_t ld, ptrdiff_t m, double *out, ptrdiff_t N,
                           ptrdiff_t start, ptrdiff_t step, ptrdiff_t r0, ptrdiff_t r1) {
    ptrdiff_t marked = 0;
    for (ptrdiff_t r = r0; r < r1; r++) {
        const REAL *v = x + r * ld;
        double *o = out + start + r * step;
        double total = 0. + FN(sum)(v, m, 0.);
        REAL lo = v[0], hi = v[0], l16[16], h16[16];
        for (int q = 0; q < 16; q++) l16[q] = h16[q] = v[0];
        ptrdiff_t j = 0;
        for (; j + 16 <= m; j += 16)
            for (int q = 0; q < 16; q++) {
                l16[q] = v[j + q] < l16[q] ? v[j + q] : l16[q];
                h16[q] = v[j + q] > h16[q] ? v[j + q] : h16[q];
            }
        for (; j < m; j++) lo = v[j] < lo ? v[j] : lo, hi = v[j] > hi ? v[j] : hi;
        for (int q = 0; q < 16; q++) lo = l16[q] < lo ? l16[q] : lo, hi = h16[q] > hi ? h16[q] : hi;
        int signed_zero = 0; /* only a -0 beside a zero extreme makes NumPy's lanes matter */
        for (ptrdiff_t q = 0; (lo == 0 || hi == 0) && q < m && !signed_zero; q++)
            signed_zero = v[q] == 0 && signbit(v[q]);
        if (!(total - total == 0.) || signed_zero) {
            o[0] = o[N] = o[2 * N] = o[3 * N] = NAN;
            marked++;
            continue;
        }
        double mean = total / (double)m;
        o[0] = lo, o[N] = hi, o[2 * N] = mean;
        o[3 * N] = sqrt((0. + FN(squares)(v, m, mean)) / (double)m);
    }
    return marked;
}

#pragma GCC pop_options

/* One gate's n values of a row (v) into their columns' running extremes l, h (NaN once one
 * is NaN, as NumPy's min/max) and the counts of values below b and above a (a NaN counts in
 * neither). */
static inline __attribute__((always_inline)) void FN(health_run)(
    const REAL *restrict v, REAL *restrict l, REAL *restrict h, ptrdiff_t n, REAL b, REAL a,
    int64_t *n_low, int64_t *n_high) {
    int32_t cl = 0, ch = 0; /* a row of one gate: n < 2^31; 16 lanes, not 8 */
    for (ptrdiff_t j = 0; j < n; j++) {
        REAL t = v[j];
        l[j] = (t < l[j] || t != t) ? t : l[j];
        h[j] = (t > h[j] || t != t) ? t : h[j];
        cl += t < b;
        ch += t > a;
    }
    *n_low += cl;
    *n_high += ch;
}

/* Gate health of a block in one pass (health.py): x (R, G*H) rows of activations; lo, hi
 * (G*H,) each column's running min and max; for rows [cuts[p], cuts[p+1]) and gate g,
 * n_low[p*G+g] += count(x < below[g]) and n_high[p*G+g] += count(x > above[g]). Exact, in
 * any order. */
static void FN(health)(const REAL *x, ptrdiff_t G, ptrdiff_t H, const REAL *below,
                       const REAL *above, const int64_t *cuts, ptrdiff_t P, REAL *lo, REAL *hi,
                       int64_t *n_low, int64_t *n_high, int nth) {
    const ptrdiff_t W = G * H;
    (void)nth; /* each gate is one thread's: its columns and counts are its own */
#ifdef _OPENMP
#pragma omp parallel for num_threads(nth) schedule(static) if (nth > 1)
#endif
    for (ptrdiff_t g = 0; g < G; g++)
        for (ptrdiff_t p = 0; p < P; p++)
            for (ptrdiff_t r = cuts[p]; r < cuts[p + 1]; r++)
                FN(health_run)(x + r * W + g * H, lo + g * H, hi + g * H, H, below[g],
                               above[g], &n_low[p * G + g], &n_high[p * G + g]);
}

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

/* n columns of one row v into their running extremes l, h and counts below b and above a
 * (per column; bitwise | rather than ||: no branch, so it vectorizes). */
static inline __attribute__((always_inline)) void FN(health_cols)(
    const REAL *restrict v, REAL *restrict l, REAL *restrict h, const REAL *restrict b,
    const REAL *restrict a, int32_t *restrict nl, int32_t *restrict nh, ptrdiff_t n) {
    for (ptrdiff_t j = 0; j < n; j++) {
        REAL x = v[j], lj = l[j], hj = h[j];
        int nan = x != x;
        l[j] = ((x < lj) | nan) ? x : lj;
        h[j] = ((x > hj) | nan) ? x : hj;
        nl[j] += x < b[j];
        nh[j] += x > a[j];
    }
}

/* Gate health of columns [j0, j1) of step t's activations z (B, W): their extremes and
 * counts (health_out). A few rows: row by row along the columns (health_cols); more: 16
 * columns at a time down all B rows, their extremes and counts kept in registers (0.3
 * against 0.8 ms a pass at B = 16, H = 256; at B = 1 the short loops cost more). */
static void FN(health_range)(const REAL *z, ptrdiff_t B, ptrdiff_t W, const struct health_out *o,
                             ptrdiff_t t, ptrdiff_t j0, ptrdiff_t j1) {
    REAL *lo = (REAL *)o->lo, *hi = (REAL *)o->hi;
    const REAL *below = (const REAL *)o->below, *above = (const REAL *)o->above;
    int32_t *n_low = o->n_low + o->piece[t] * W, *n_high = o->n_high + o->piece[t] * W;
    if (B < 4) {
        for (ptrdiff_t b = 0; b < B; b++)
            FN(health_cols)(z + b * W + j0, lo + j0, hi + j0, below + j0, above + j0,
                            n_low + j0, n_high + j0, j1 - j0);
        return;
    }
    for (ptrdiff_t j = j0; j < j1; j += 16) {
        if (j + 16 > j1) { /* the last few columns */
            for (ptrdiff_t b = 0; b < B; b++)
                FN(health_cols)(z + b * W + j, lo + j, hi + j, below + j, above + j, n_low + j,
                                n_high + j, j1 - j);
            break;
        }
        REAL l[16], h[16], bl[16], ab[16];
        int32_t nl[16], nh[16];
        for (int q = 0; q < 16; q++)
            l[q] = lo[j + q], h[q] = hi[j + q], bl[q] = below[j + q], ab[q] = above[j + q],
            nl[q] = 0, nh[q] = 0;
        for (ptrdiff_t b = 0; b < B; b++) {
            const REAL *v = z + b * W + j;
            for (int q = 0; q < 16; q++) {
                REAL x = v[q];
                int nan = x != x;
                l[q] = ((x < l[q]) | nan) ? x : l[q];
                h[q] = ((x > h[q]) | nan) ? x : h[q];
                nl[q] += x < bl[q];
                nh[q] += x > ab[q];
            }
        }
        for (int q = 0; q < 16; q++)
            lo[j + q] = l[q], hi[j + q] = h[q], n_low[j + q] += nl[q], n_high[j + q] += nh[q];
    }
}

/* Gate health of units [u0, u1) of each of the G gates of step t (z (B, G*H)): a thread's
 * own units, which it has just written (no barrier needed, nothing another core holds), so
 * each column's extremes and counts are one thread's (no lock, no horizontal sums). */
static void FN(health_step)(const REAL *z, ptrdiff_t B, ptrdiff_t G, ptrdiff_t H,
                            const struct health_out *o, ptrdiff_t t, ptrdiff_t u0, ptrdiff_t u1) {
    if (u0 == 0 && u1 == H) { /* every unit: the gates' columns are one run */
        FN(health_range)(z, B, G * H, o, t, 0, G * H);
        return;
    }
    for (ptrdiff_t g = 0; g < G; g++)
        FN(health_range)(z, B, G * H, o, t, g * H + u0, g * H + u1);
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
     * thread's gate health reads only what it wrote */
    FN(columns)(H, tid, nth, &u0, &u1);
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
        if (a->health.lo && u1 > u0) FN(health_step)(z, B, 4, H, &a->health, t, u0, u1);
        BARRIER(nth);
        if (a->w_hr) {  /* h_t = (o tanh C_t) W_hr^T: a product of its own, then copied out */
            FN(product_step)(full, H, B, a->w_hr, proj, H, a->np_hr, tid, nth);
            for (ptrdiff_t b = tid; b < B; b += nth)
                memcpy(y + b * a->out_row, proj + b * a->np_hr, (size_t)HO * sizeof(REAL));
            BARRIER(nth);
        }
        h = y, ldh = a->out_row, c_prev = c;
    }
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
        if (a->health.lo && u1 > u0) FN(health_step)(z, B, 3, H, &a->health, t, u0, u1);
        BARRIER(nth);
        h = y, ldh = a->out_row;
    }
}

#undef VEC_N
#undef VEC
#undef PW
#undef CAT
#undef CAT2
#undef FN
