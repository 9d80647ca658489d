/* Gate health (lstm_trace/health.py's counts), compiled per instruction set and number type:
 * included by body.h. The loop's own count of each step (health_step(), into struct
 * health_out), and of a run of steps once they have run (health_late(): a few rows' steps, and
 * the block pass health.py asks for when a block's steps were not all counted in the loop). */

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
