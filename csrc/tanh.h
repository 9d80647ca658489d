/* The kernel's own tanh, float32 and float64: branch-free, so the loops that call it
 * vectorize. Included by kernel.c before body.h. */
/* tanh of a float32, in float32 (16 lanes on AVX-512): tanh(a) = e / (e + 2) with
 * e = expm1(2a) = 2^n (e^r - 1) + (2^n - 1), n = round(2a / ln 2), r = 2a - n ln 2 in two
 * parts (Cody-Waite: n * LN2_HI is exact for n <= 29), e^r - 1 a degree-7 Taylor polynomial
 * (relative error below 2e-8 for |r| <= ln2 / 2). expm1, unlike 1 - 2 / (e^2a + 1), keeps
 * small |x| accurate without a second formula. At most 3 ulps from the correctly rounded
 * tanh, 95 % of values exact and 99.9 % within 1 (tests/test_compiled.py measures it on a
 * million random bit patterns and 4 million values in [-12, 12]); 2.7 x quicker than the
 * same computed in double. Branch-free, so that the loops that call it vectorize; |x| is
 * clamped at 10 (tanh(10) rounds to 1); NaN stays NaN, +-inf gives +-1, -0 stays -0. */
static inline __attribute__((always_inline)) float tanh_f32(float x) {
    float a = fabsf(x);
    float c = a > 10.0f ? 10.0f : a; /* NaN passes through */
    float z = c + c;
    float shifted = z * 1.44269504f + 12582912.0f; /* 1.5 * 2^23: rounds 2a / ln 2 */
    float n = shifted - 12582912.0f;
    float r = (z - n * 0.693145751953125f) - n * 1.42860677e-06f; /* ln 2: high, low part */
    float pm1 = r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
                r * (1.0f / 720 + r * (1.0f / 5040)))))));
    uint32_t bits; /* unsigned: for NaN the shift runs out of range, defined only so */
    memcpy(&bits, &shifted, sizeof bits);
    uint32_t scale_bits = (bits - UINT32_C(0x4B400000) + 127u) << 23;
    float scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    float em = scale * pm1 + (scale - 1.0f);
    return copysignf(em / (em + 2.0f), x);
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
