/* The records' statistics (summary.stats_rows's numbers; csrc/stats.h is the Python entry),
 * compiled per instruction set and number type: included by body.h inside its
 * fp-contract=off region, so every sum is rounded as NumPy rounds it. */

/* NumPy's pairwise sum (what its float add.reduce does along a row) of n terms in double:
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
