/* Packing weights into the panels the loops read: pack(w_t, scale, out). Included by
 * kernel.c after args.h. NumPy took 4 x a plain copy's time for this transposing copy (12 ms
 * for W_hh and W_ih at H = I = 1024, a third of a 50-step pass); one pass here, reading
 * PW rows of W at a time, is near a copy's. */

/* out[p][k][j] = w_t[k][p*PW + j] (* scale[p*PW + j]), 0 past column n; panels p0 to p1.
 * s0, s1: w_t's strides in elements (any: W^T is usually a transposed view of W). Read in
 * tiles of TILE_K values of each of a panel's columns: the PW rows of W in a panel lie a row
 * apart, often a multiple of 4 KB, so value by value they evict each other from the cache. */
#define TILE_K 16
#define DEFINE_PACK(NAME, REAL)                                                              \
    static void NAME(const REAL *w, ptrdiff_t s0, ptrdiff_t s1, const REAL *scale, REAL *out, \
                     ptrdiff_t k, ptrdiff_t n, ptrdiff_t pw, ptrdiff_t p0, ptrdiff_t p1) {   \
        REAL tile[32][TILE_K];                                                               \
        for (ptrdiff_t p = p0; p < p1; p++) {                                                \
            ptrdiff_t first = p * pw, cols = n - first < pw ? n - first : pw;                \
            REAL *panel = out + p * k * pw;                                                  \
            for (ptrdiff_t k0 = 0; k0 < k; k0 += TILE_K) {                                   \
                ptrdiff_t kn = k - k0 < TILE_K ? k - k0 : TILE_K;                            \
                for (ptrdiff_t j = 0; j < cols; j++) {                                       \
                    const REAL *src = w + k0 * s0 + (first + j) * s1;                        \
                    REAL g = scale ? scale[first + j] : (REAL)1;                             \
                    for (ptrdiff_t q = 0; q < kn; q++)                                       \
                        tile[j][q] = scale ? src[q * s0] * g : src[q * s0];                  \
                }                                                                            \
                for (ptrdiff_t q = 0; q < kn; q++) {                                         \
                    REAL *dst = panel + (k0 + q) * pw;                                       \
                    ptrdiff_t j = 0;                                                         \
                    for (; j < cols; j++) dst[j] = tile[j][q];                               \
                    for (; j < pw; j++) dst[j] = 0;                                          \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    }
DEFINE_PACK(pack_f32, float)
DEFINE_PACK(pack_f64, double)

PyDoc_STRVAR(pack_doc,
"pack(w_t, scale, out)\n\n"
"out (P, K, PW) C order = W^T (K, N) in panels of PW = 128 bytes of columns, times scale (N,)\n"
"per column unless scale is None, zero past column N. w_t of any strides (a transposed view of\n"
"W is read in place). Each value is one rounded product, as NumPy's multiply gives.");

static PyObject *k_pack(PyObject *self, PyObject *args) {
    PyObject *o[3];
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2])) return NULL;
    int kind = kind_of(o[0]);
    if (kind < 0) return NULL;
    Py_buffer v[3];
    memset(v, 0, sizeof v);
    const char *real = kind ? "d" : "f";
    int flags[3] = {PyBUF_STRIDES | PyBUF_FORMAT, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT,
                    PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE};
    for (int q = 0; q < 3; q++) {
        if (q == 1 && o[q] == Py_None) continue;
        if (PyObject_GetBuffer(o[q], &v[q], flags[q]) < 0) {
            RELEASE_ALL(v, 3);
            return NULL;
        }
    }
    ptrdiff_t isz = kind ? 8 : 4;
    int ok = v[0].ndim == 2 && v[2].ndim == 3 && strcmp(v[0].format, real) == 0 &&
             strcmp(v[2].format, real) == 0 && v[0].strides[0] % isz == 0 &&
             v[0].strides[1] % isz == 0;
    ptrdiff_t k = ok ? v[0].shape[0] : 0, n = ok ? v[0].shape[1] : 0, pw = 128 / isz;
    ok = ok && v[2].shape[1] == k && v[2].shape[2] == pw && v[2].shape[0] == (n + pw - 1) / pw;
    ok = ok && (o[1] == Py_None || (strcmp(v[1].format, real) == 0 && v[1].len == n * isz));
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "pack: arrays do not agree");
        RELEASE_ALL(v, 3);
        return NULL;
    }
    ptrdiff_t s0 = v[0].strides[0] / isz, s1 = v[0].strides[1] / isz, count = v[2].shape[0];
    const void *scale = o[1] == Py_None ? NULL : v[1].buf;
    int nth = threads_for(k * n / 4); /* a copy: a quarter of a multiply-add a value */
    nth = nth < count ? nth : (int)count;
    (void)nth; /* unused without OpenMP */
    Py_BEGIN_ALLOW_THREADS
#ifdef _OPENMP
#pragma omp parallel num_threads(nth) if (nth > 1)
#endif
    {
        ptrdiff_t p0, p1;
        team_share(count, &p0, &p1);
        if (kind)
            pack_f64(v[0].buf, s0, s1, scale, v[2].buf, k, n, pw, p0, p1);
        else
            pack_f32(v[0].buf, s0, s1, scale, v[2].buf, k, n, pw, p0, p1);
    }
    Py_END_ALLOW_THREADS
    RELEASE_ALL(v, 3);
    Py_RETURN_NONE;
}
