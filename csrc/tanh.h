/* The kernel's own tanh, float32 and float64: branch-free, so the loops that call it
 * vectorize. Included by kernel.c before body.h. */
/* tanh of a float32, computed in double: exp(2|x|) = 2^n e^r with |r| <= ln2 / 2 and e^r a
 * degree-10 Taylor polynomial (relative error below 1e-13), then 1 - 2 / (e^(2|x|) + 1).
 * Its double result is within about 1e-12 relative of tanh, so the float32 it rounds to is
 * the correctly rounded tanh(x) or its neighbour (at most 1 ulp; kernel.py states it, and
 * tests/test_kernel.py measures it against NumPy's float64 tanh). Branch-free, so that the
 * compiler vectorizes the loops that call it; |x| < 2^-12 returns x (tanh(x) = x - x^3/3 + ...
 * within half an ulp there), NaN stays NaN, +-inf gives +-1. */
static inline __attribute__((always_inline)) float tanh_f32(float xf) {
    double x = xf;
    double a = fabs(x);
    double c = a > 10.0 ? 10.0 : a; /* tanh(10) rounds to 1 in float32; NaN passes through */
    double t = c * 2.8853900817779268; /* 2|x| / ln 2 */
    double shifted = t + 6755399441055744.0; /* 1.5 * 2^52: rounds t to an integer */
    double n = shifted - 6755399441055744.0;
    double r = (t - n) * 0.6931471805599453;
    double p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 +
               r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 +
               r * (1.0 / 3628800))))))))));
    uint64_t bits; /* unsigned: for NaN the shift runs out of range, defined only so */
    memcpy(&bits, &shifted, sizeof bits);
    uint64_t scale_bits = (bits - UINT64_C(0x4338000000000000) + 1023) << 52;
    double scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    double e = p * scale;
    double y = 1.0 - 2.0 / (e + 1.0);
    y = a < 0.000244140625 ? a : y;
    return (float)copysign(y, x); /* -0 stays -0 */
}

/* tanh of a float64, branch-free as tanh_f32 but to double precision: for |x| < 1/16 its odd
 * Taylor series to x^11 (relative error below 2e-17), else 1 - 2 / (e^(2|x|) + 1) with e^r of
 * degree 13 (relative error below 1e-16; the subtraction loses at most 4 bits at |x| = 1/16).
 * Within about 4e-15 relative of tanh (tests/test_compiled.py measures it against NumPy's). */
static inline __attribute__((always_inline)) double tanh_f64(double x) {
    double a = fabs(x);
    double c = a > 20.0 ? 20.0 : a; /* tanh(20) rounds to 1; NaN passes through */
    double t = c * 2.8853900817779268;
    double shifted = t + 6755399441055744.0;
    double n = shifted - 6755399441055744.0;
    double r = (t - n) * 0.6931471805599453;
    double p = 1.0 / 6227020800.0;                /* 1/13! */
    p = p * r + 1.0 / 479001600.0, p = p * r + 1.0 / 39916800.0, p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0, p = p * r + 1.0 / 40320.0, p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0, p = p * r + 1.0 / 120.0, p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0, p = p * r + 0.5, p = p * r + 1.0, p = p * r + 1.0;
    uint64_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    uint64_t scale_bits = (bits - UINT64_C(0x4338000000000000) + 1023) << 52;
    double scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    double big = 1.0 - 2.0 / (p * scale + 1.0);
    double a2 = a * a; /* x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 - 1382x^11/155925 */
    double q = -1382.0 / 155925.0;
    q = q * a2 + 62.0 / 2835.0, q = q * a2 - 17.0 / 315.0, q = q * a2 + 2.0 / 15.0;
    q = q * a2 - 1.0 / 3.0;
    double small = a + a * a2 * q;
    double y = a < 0.0625 ? small : big;
    return copysign(y, x); /* -0 stays -0 */
}
