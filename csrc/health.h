/* Gate health (lstm_trace/health.py's counts), compiled per instruction set and number type:
 * included by body.h. The loop's own count of each step (health_step(), into struct
 * health_out), of a few rows' piece of steps as it ends (health_piece()), and of a run of
 * steps after they have run (health_late(): the block pass health.py asks for when a block's
 * steps were not all counted in the loop). */

/* n columns of one row v into their running extremes l, h (NaN-ignoring: a compare and a
 * select, one min or max instruction), counts below b and above a, and NaNs nn (per column;
 * no branch, so it vectorizes). */
static inline __attribute__((always_inline)) void FN(health_cols)(
    const REAL *restrict v, REAL *restrict l, REAL *restrict h, const REAL *restrict b,
    const REAL *restrict a, int32_t *restrict nl, int32_t *restrict nh, int32_t *restrict nn,
    ptrdiff_t n) {
    for (ptrdiff_t j = 0; j < n; j++) {
        REAL x = v[j];
        l[j] = x < l[j] ? x : l[j];
        h[j] = x > h[j] ? x : h[j];
        nl[j] += x < b[j];
        nh[j] += x > a[j];
        nn[j] += x != x;
    }
}

/* Columns [j, j + n) (n <= 64) of z (B, W) down all B rows into their extremes lo, hi and
 * counts: a column that held a NaN gets NaN extremes (and keeps them: no value compares
 * below or above a NaN). With `regs` (a constant where this is inlined, as n is) the
 * extremes and counts are kept in registers meanwhile, which pays for many rows: health_cols'
 * loop is the one the compiler vectorizes, and 64 columns make four independent chains of
 * min and max, whose latency one chain waits on at every row. */
static inline __attribute__((always_inline)) void FN(health_cols_down)(
    const REAL *z, ptrdiff_t B, ptrdiff_t W, REAL *lo, REAL *hi, const REAL *below,
    const REAL *above, int32_t *n_low, int32_t *n_high, ptrdiff_t j, int n, int regs) {
    REAL l[64], h[64], bl[64], ab[64];
    int32_t nl[64], nh[64], nn[64];
    for (int q = 0; q < n; q++) nn[q] = 0;
    if (regs) {
        for (int q = 0; q < n; q++)
            l[q] = lo[j + q], h[q] = hi[j + q], bl[q] = below[j + q], ab[q] = above[j + q],
            nl[q] = 0, nh[q] = 0;
        for (ptrdiff_t b = 0; b < B; b++)
            FN(health_cols)(z + b * W + j, l, h, bl, ab, nl, nh, nn, n);
        for (int q = 0; q < n; q++)
            lo[j + q] = l[q], hi[j + q] = h[q], n_low[j + q] += nl[q], n_high[j + q] += nh[q];
    } else {
        for (ptrdiff_t b = 0; b < B; b++)
            FN(health_cols)(z + b * W + j, lo + j, hi + j, below + j, above + j, n_low + j,
                            n_high + j, nn, n);
    }
    for (int q = 0; q < n; q++)
        if (nn[q]) lo[j + q] = hi[j + q] = (REAL)NAN;
}

/* Gate health of columns [j0, j1) of step t's activations z (B, W): their extremes and
 * counts (health_out). A few rows: row by row along the columns; more: 64, then 16 columns
 * at a time down all B rows, in registers (0.3 against 0.8 ms a pass at B = 16, H = 256; at
 * B = 1 the short loops cost more), the last few row by row. */
static void FN(health_range)(const REAL *z, ptrdiff_t B, ptrdiff_t W, const struct health_out *o,
                             ptrdiff_t t, ptrdiff_t j0, ptrdiff_t j1) {
    REAL *lo = (REAL *)o->lo, *hi = (REAL *)o->hi;
    const REAL *below = (const REAL *)o->below, *above = (const REAL *)o->above;
    int32_t *n_low = o->n_low + o->piece[t] * W, *n_high = o->n_high + o->piece[t] * W;
    ptrdiff_t j = j0;
    if (B >= 4) {
        for (; j + 64 <= j1; j += 64)
            FN(health_cols_down)(z, B, W, lo, hi, below, above, n_low, n_high, j, 64, 1);
        for (; j + 16 <= j1; j += 16)
            FN(health_cols_down)(z, B, W, lo, hi, below, above, n_low, n_high, j, 16, 1);
    }
    for (; j < j1; j += 64) {
        int n = j1 - j < 64 ? (int)(j1 - j) : 64;
        FN(health_cols_down)(z, B, W, lo, hi, below, above, n_low, n_high, j, n, 0);
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

/* Gate health of a call's steps z (steps, B, G*H), time order, after they have all run, each
 * piece of steps at once, its columns down all of its rows (health_range). A thread's own
 * units, as health_step's. */
static void FN(health_late)(const REAL *z, ptrdiff_t steps, ptrdiff_t B, ptrdiff_t G,
                            ptrdiff_t H, const struct health_out *o, ptrdiff_t u0, ptrdiff_t u1) {
    for (ptrdiff_t t0 = 0, t1; t0 < steps; t0 = t1) {
        for (t1 = t0 + 1; t1 < steps && o->piece[t1] == o->piece[t0]; t1++) {
        }
        FN(health_step)(z + t0 * B * G * H, (t1 - t0) * B, G, H, o, t0, u0, u1);
    }
}

/* For a few rows (B < 4), once step t (visit s of steps) has run: a step's run is too short
 * for health_range's registers to pay (0.09 us a step at B = 1, H = 70), so when t ends its
 * piece of time (the next step visited is another piece's, or there is none) the piece's
 * steps are counted at once, while they are still in cache (after the whole call, a pass's
 * activations have outgrown L2). *first is the piece's first visited step, moved on to the
 * next piece's. */
static inline void FN(health_piece)(const REAL *z, ptrdiff_t steps, int backward, ptrdiff_t s,
                                    ptrdiff_t t, ptrdiff_t *first, ptrdiff_t B, ptrdiff_t G,
                                    ptrdiff_t H, const struct health_out *o, ptrdiff_t u0,
                                    ptrdiff_t u1) {
    ptrdiff_t next = backward ? t - 1 : t + 1;
    if (s + 1 < steps && o->piece[next] == o->piece[t]) return;
    ptrdiff_t lo = t < *first ? t : *first, hi = t < *first ? *first : t;
    FN(health_step)(z + lo * B * G * H, (hi - lo + 1) * B, G, H, o, lo, u0, u1);
    *first = next;
}
