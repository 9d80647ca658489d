/* Gate health (lstm_trace/health.py's counts), compiled per instruction set and number type:
 * included by body.h. The loop's own count of each step (health_step(), into struct
 * health_out), of a few rows' segment of steps as it ends (health_piece()), and of a run of
 * steps after they have run (health_late(): the block pass health.py asks for when a block's
 * steps were not counted in the loop, a hooked step's). Each returns the NaN and Inf it
 * counted. The counts go straight into the monitor's running totals: they are exact, so they
 * are the NumPy path's whatever the order they are made in. */

/* n columns of one row v into their running extremes l, h (NaN-ignoring: a compare and a
 * select, one min or max instruction), counts below b and above a, and sums sm (per column;
 * no branch, so it vectorizes). A sum turns NaN or Inf with any NaN or Inf it adds, which
 * one add shows (a compare and a count would cost two instructions a vector). */
static inline __attribute__((always_inline)) void FN(health_cols)(
    const REAL *restrict v, REAL *restrict l, REAL *restrict h, const REAL *restrict b,
    const REAL *restrict a, int32_t *restrict nl, int32_t *restrict nh, REAL *restrict sm,
    ptrdiff_t n) {
    for (ptrdiff_t j = 0; j < n; j++) {
        REAL x = v[j];
        l[j] = x < l[j] ? x : l[j];
        h[j] = x > h[j] ? x : h[j];
        nl[j] += x < b[j];
        nh[j] += x > a[j];
        sm[j] += x;
    }
}

/* The NaN and Inf of column j of z (rows, W), counted one by one: for a column whose sum is
 * not finite (rare: a NaN, an Inf, or finite values whose sum overflowed, which count 0). */
static ptrdiff_t FN(health_bad_column)(const REAL *z, ptrdiff_t rows, ptrdiff_t W,
                                       ptrdiff_t j) {
    ptrdiff_t bad = 0;
    for (ptrdiff_t r = 0; r < rows; r++) {
        REAL x = z[r * W + j];
        bad += (x - x) != 0; /* 0 for a finite x, NaN otherwise */
    }
    return bad;
}

/* Columns [j, j + n) (n <= 64) of z (rows, W) down all its rows into their extremes lo, hi
 * and counts (n_low, n_high a segment's row of them, n_bad the columns' NaN and Inf):
 * returns the NaN and Inf. The counts are kept in int32 registers meanwhile (fewer than
 * 2^31 rows a call) and added once; with `regs` (a constant where this is inlined, as n is)
 * the extremes too, which pays for many rows: health_cols' loop is the one the compiler
 * vectorizes, and 64 columns make four independent chains of min and max, whose latency one
 * chain waits on at every row. */
static inline __attribute__((always_inline)) ptrdiff_t FN(health_cols_down)(
    const REAL *z, ptrdiff_t rows, ptrdiff_t W, REAL *lo, REAL *hi, const REAL *below,
    const REAL *above, int64_t *n_low, int64_t *n_high, int64_t *n_bad, ptrdiff_t j, int n,
    int regs) {
    REAL l[64], h[64], bl[64], ab[64], sm[64];
    int32_t nl[64], nh[64];
    for (int q = 0; q < n; q++) nl[q] = 0, nh[q] = 0, sm[q] = 0;
    if (regs) {
        for (int q = 0; q < n; q++)
            l[q] = lo[j + q], h[q] = hi[j + q], bl[q] = below[j + q], ab[q] = above[j + q];
        for (ptrdiff_t r = 0; r < rows; r++)
            FN(health_cols)(z + r * W + j, l, h, bl, ab, nl, nh, sm, n);
        for (int q = 0; q < n; q++) lo[j + q] = l[q], hi[j + q] = h[q];
    } else {
        for (ptrdiff_t r = 0; r < rows; r++)
            FN(health_cols)(z + r * W + j, lo + j, hi + j, below + j, above + j, nl, nh, sm, n);
    }
    int nonfinite = 0;
    for (int q = 0; q < n; q++) {
        n_low[j + q] += nl[q], n_high[j + q] += nh[q];
        nonfinite |= (sm[q] - sm[q]) != 0; /* a sum not finite */
    }
    if (!nonfinite) return 0; /* one test, so that the loop above vectorizes */
    ptrdiff_t bad = 0;
    for (int q = 0; q < n; q++) {
        if ((sm[q] - sm[q]) != 0) {
            ptrdiff_t found = FN(health_bad_column)(z, rows, W, j + q);
            n_bad[j + q] += found, bad += found;
        }
    }
    return bad;
}

/* Gate health of columns [j0, j1) of `rows` rows z (rows, W), all of segment s: their
 * extremes and counts (health_out). A few rows: row by row along the columns; more: 64, then
 * 16 columns at a time down all the rows, in registers (0.3 against 0.8 ms a pass at B = 16,
 * H = 256; at B = 1 the short loops cost more), the last few row by row. */
static ptrdiff_t FN(health_range)(const REAL *z, ptrdiff_t rows, ptrdiff_t W,
                                  const struct health_out *o, int64_t s, ptrdiff_t j0,
                                  ptrdiff_t j1) {
    REAL *lo = (REAL *)o->lo, *hi = (REAL *)o->hi;
    const REAL *below = (const REAL *)o->below, *above = (const REAL *)o->above;
    int64_t *n_low = o->n_low + s * W, *n_high = o->n_high + s * W, *n_bad = o->n_bad;
    ptrdiff_t j = j0, bad = 0;
    if (rows >= 4) {
        for (; j + 64 <= j1; j += 64)
            bad += FN(health_cols_down)(z, rows, W, lo, hi, below, above, n_low, n_high, n_bad,
                                        j, 64, 1);
        for (; j + 16 <= j1; j += 16)
            bad += FN(health_cols_down)(z, rows, W, lo, hi, below, above, n_low, n_high, n_bad,
                                        j, 16, 1);
    }
    for (; j < j1; j += 64) {
        int n = j1 - j < 64 ? (int)(j1 - j) : 64;
        bad += FN(health_cols_down)(z, rows, W, lo, hi, below, above, n_low, n_high, n_bad, j,
                                    n, 0);
    }
    return bad;
}

/* Gate health of units [u0, u1) of each of the G gates of `rows` rows z (rows, G*H) of
 * segment s: a thread's own units, which it has just written (no barrier needed, nothing
 * another core holds), so each column's extremes and counts are one thread's (no lock, no
 * horizontal sums). */
static ptrdiff_t FN(health_step)(const REAL *z, ptrdiff_t rows, ptrdiff_t G, ptrdiff_t H,
                                 const struct health_out *o, int64_t s, ptrdiff_t u0,
                                 ptrdiff_t u1) {
    if (u0 == 0 && u1 == H) /* every unit: the gates' columns are one run */
        return FN(health_range)(z, rows, G * H, o, s, 0, G * H);
    ptrdiff_t bad = 0;
    for (ptrdiff_t g = 0; g < G; g++)
        bad += FN(health_range)(z, rows, G * H, o, s, g * H + u0, g * H + u1);
    return bad;
}

/* Gate health of a call's steps z (steps, B, G*H), time order, after they have all run, each
 * segment's steps at once, its columns down all of its rows (health_range). A thread's own
 * units, as health_step's. */
static ptrdiff_t FN(health_late)(const REAL *z, ptrdiff_t steps, ptrdiff_t B, ptrdiff_t G,
                                 ptrdiff_t H, const struct health_out *o, ptrdiff_t u0,
                                 ptrdiff_t u1) {
    ptrdiff_t bad = 0;
    for (ptrdiff_t t0 = 0, t1; t0 < steps; t0 = t1) {
        for (t1 = t0 + 1; t1 < steps && o->piece[t1] == o->piece[t0]; t1++) {
        }
        bad += FN(health_step)(z + t0 * B * G * H, (t1 - t0) * B, G, H, o, o->piece[t0], u0,
                               u1);
    }
    return bad;
}

/* For a few rows (B < 4), once step t (visit s of steps) has run: a step's run is too short
 * for health_range's registers to pay (0.09 us a step at B = 1, H = 70), so when t ends its
 * segment (the next step visited is another segment's, or there is none) the segment's
 * steps are counted at once, while they are still in cache (after the whole call, a pass's
 * activations have outgrown L2). *first is the segment's first visited step, moved on to the
 * next one's. Returns the NaN and Inf counted. */
static inline ptrdiff_t FN(health_piece)(const REAL *z, ptrdiff_t steps, int backward,
                                         ptrdiff_t s, ptrdiff_t t, ptrdiff_t *first,
                                         ptrdiff_t B, ptrdiff_t G, ptrdiff_t H,
                                         const struct health_out *o, ptrdiff_t u0,
                                         ptrdiff_t u1) {
    ptrdiff_t next = backward ? t - 1 : t + 1;
    if (s + 1 < steps && o->piece[next] == o->piece[t]) return 0;
    ptrdiff_t lo = t < *first ? t : *first, hi = t < *first ? *first : t;
    *first = next;
    return FN(health_step)(z + lo * B * G * H, (hi - lo + 1) * B, G, H, o, o->piece[t], u0, u1);
}

/* A thread's NaN and Inf of a call into the call's total (*o->bad), once, at its end. */
static inline void FN(health_bad)(const struct health_out *o, ptrdiff_t bad) {
    if (bad) __atomic_fetch_add(o->bad, bad, __ATOMIC_RELAXED);
}
