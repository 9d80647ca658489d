/* stats(x, out): the records' statistics (summary.stats_rows) of many rows in one call.
 * Included by kernel.c after args.h; the loops are body.h's (per instruction set). */

PyDoc_STRVAR(stats_doc,
"stats(x, out, start=0, step=1, samples=None) -> marked\n\n"
"out[:, start + r * step] (out (4, N) float64 C order) = the min, max, mean and std\n"
"(population) of row r of x (R, M)\n"
"float32 or float64, last axis contiguous, any row stride: NumPy's float64 sums (pairwise, in\n"
"its order), so the same bits as summary.stats_rows's NumPy path. NaN in all four for a row\n"
"whose sum is not finite (a NaN or an Inf in it) or whose zero extreme sits beside a -0: the\n"
"caller's NumPy path does those; returns how many. x may be a tuple of such arrays, each its\n"
"own R and M: the q-th's rows go to out[:, start + q + r * step] (a step's records, a hook\n"
"point each, in one call). samples (N, k) float64 C order, when given, receives the same\n"
"rows' first k values (NaN after a row's M).");

/* x's float32 or float64 (R, M) array in v (one buffer request, its format read from it):
 * its kind (0 float32, 1 float64), or -1 with ValueError when it is no such array. */
static int take_rows(PyObject *x, Py_buffer *v) {
    if (PyObject_GetBuffer(x, v, PyBUF_STRIDES | PyBUF_FORMAT) < 0) return -1;
    int kind = strcmp(v->format, "d") == 0 ? 1 : strcmp(v->format, "f") == 0 ? 0 : -1;
    if (kind < 0 || v->ndim != 2 || (v->strides[1] != v->itemsize && v->shape[1] > 1)) {
        PyErr_SetString(PyExc_ValueError,
                        "stats: expected a 2-d float32 or float64 array, last axis contiguous");
        PyBuffer_Release(v);
        return -1;
    }
    return kind;
}

/* The first k values of each row of v (kind 0 float32, 1 float64) into rows start + r * step
 * of samples (N, k), NaN after a row's M: the records' samples, exact in float64. */
static void samples_into(const Py_buffer *v, int kind, double *samples, ptrdiff_t k,
                         ptrdiff_t start, ptrdiff_t step) {
    ptrdiff_t m = v->shape[1] < k ? v->shape[1] : k;
    for (ptrdiff_t r = 0; r < v->shape[0]; r++) {
        const char *row = (const char *)v->buf + r * v->strides[0];
        double *o = samples + (start + r * step) * k;
        for (ptrdiff_t j = 0; j < m; j++)
            o[j] = kind ? ((const double *)row)[j] : (double)((const float *)row)[j];
        for (ptrdiff_t j = m; j < k; j++) o[j] = NAN;
    }
}

/* The stats of x's rows into out (taken) at columns start + r * step, and their samples when
 * samples (k columns) is given; adds the rows it marks to *marked. -1 with an exception set
 * when x is not such an array or does not fit. */
static int stats_into(PyObject *x, const Py_buffer *out, double *samples, ptrdiff_t k,
                      ptrdiff_t start, ptrdiff_t step, ptrdiff_t *marked) {
    Py_buffer v;
    int kind = take_rows(x, &v);
    if (kind < 0) return -1;
    ptrdiff_t rows = v.shape[0], m = v.shape[1], n = out->shape[1];
    if (m < 1 || start < 0 || step < 1 ||
        (rows > 0 && (start >= n || (n - 1 - start) / step < rows - 1))) {
        PyErr_SetString(PyExc_ValueError,
                        "stats: x (R, M >= 1) and out (4, N > start + (R - 1) * step) must agree");
        PyBuffer_Release(&v);
        return -1;
    }
    stats_fn fn = ISAS[current].stats[kind];
    ptrdiff_t ld = stride(&v, 0), found = 0;
    int nth = threads_for(rows * m); /* each row one thread's: the same bits */
    nth = nth < rows ? nth : (int)(rows > 0 ? rows : 1);
    Py_BEGIN_ALLOW_THREADS
    if (nth == 1) { /* a few records: no team to start (a parallel region costs a call) */
        found = fn(v.buf, ld, m, out->buf, n, start, step, 0, rows);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(nth) reduction(+ : found)
#endif
        {
            ptrdiff_t r0, r1;
            team_share(rows, &r0, &r1);
            found += fn(v.buf, ld, m, out->buf, n, start, step, r0, r1);
        }
    }
    if (samples) samples_into(&v, kind, samples, k, start, step);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v);
    *marked += found;
    return 0;
}

static PyObject *k_stats(PyObject *self, PyObject *args) {
    PyObject *x, *o, *s = Py_None;
    Py_ssize_t start = 0, step = 1;
    if (!PyArg_ParseTuple(args, "OO|nnO", &x, &o, &start, &step, &s)) return NULL;
    Py_buffer v[2];
    memset(v, 0, sizeof v);
    if (take(o, &v[0], 2, 1, 1, "out") < 0) return NULL;
    if (v[0].shape[0] != 4 || !PyBuffer_IsContiguous(&v[0], 'C')) {
        PyErr_SetString(PyExc_ValueError, "stats: out must be (4, N) float64, C order");
        PyBuffer_Release(&v[0]);
        return NULL;
    }
    if (s != Py_None) {
        if (take(s, &v[1], 2, 1, 1, "samples") < 0) {
            PyBuffer_Release(&v[0]);
            return NULL;
        }
        if (v[1].shape[0] != v[0].shape[1] || !PyBuffer_IsContiguous(&v[1], 'C')) {
            PyErr_SetString(PyExc_ValueError, "stats: samples must be (N, k) float64, C order");
            RELEASE_ALL(v, 2);
            return NULL;
        }
    }
    double *samples = s != Py_None ? (double *)v[1].buf : NULL;
    ptrdiff_t marked = 0, k = s != Py_None ? v[1].shape[1] : 0;
    int failed = 0;
    if (PyTuple_Check(x)) {
        for (Py_ssize_t q = 0; q < PyTuple_GET_SIZE(x) && !failed; q++)
            failed = stats_into(PyTuple_GET_ITEM(x, q), &v[0], samples, k, start + q, step,
                                &marked) < 0;
    } else {
        failed = stats_into(x, &v[0], samples, k, start, step, &marked) < 0;
    }
    RELEASE_ALL(v, 2);
    return failed ? NULL : PyLong_FromSsize_t(marked);
}
