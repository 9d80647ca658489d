/* Gate health (lstm_trace/health.py's counts), compiled per instruction set and number type:
 * included by body.h. A block's pass (health(), for blocks the loop did not count) and the
 * loop's own count of each step (health_step(), into struct health_out). */

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

/* Gate health of a call's steps z (steps, B, G*H), time order, after they have all run: for
 * a few rows (B < 4) a step's run is too short for the registers to pay (0.09 us a step at
 * B = 1, H = 70, counted a step at a time), so each piece of steps is counted at once, 16
 * columns down all of its rows. A thread's own units, as health_step's. */
static void FN(health_late)(const REAL *z, ptrdiff_t steps, ptrdiff_t B, ptrdiff_t G,
                            ptrdiff_t H, const struct health_out *o, ptrdiff_t u0, ptrdiff_t u1) {
    for (ptrdiff_t t0 = 0, t1; t0 < steps; t0 = t1) {
        for (t1 = t0 + 1; t1 < steps && o->piece[t1] == o->piece[t0]; t1++) {
        }
        FN(health_step)(z + t0 * B * G * H, (t1 - t0) * B, G, H, o, t0, u0, u1);
    }
}
