/* stats(x, out): the records' statistics (summary.stats_rows) of many rows in one call.
 * Included by kernel.c after args.h; the loops are body.h's (per instruction set). */

PyDoc_STRVAR(stats_doc,
"stats(x, out, start=0, step=1, samples=None) -> marked\n\n"
"out[:, start + r * step] (out (4, N) float64 C order) = the min, max, mean and std\n"
"(population) of row r of x (R, M...) float32 or float64, any strides: of x[r] flattened as\n"
"x.reshape(R, -1) has it (a row that is not one run is copied first). NumPy's float64 sums\n"
"(pairwise, in its order), so the same bits as summary.stats_rows's NumPy path. NaN in all\n"
"four for a row\n"
"whose sum is not finite (a NaN or an Inf in it) or whose zero extreme sits beside a -0: the\n"
"caller's NumPy path does those; returns how many. x may be a tuple of such arrays, each its\n"
"own R and M: the q-th's rows go to out[:, start + q + r * step] (a step's records, a hook\n"
"point each, in one call). samples (N, k) float64 C order, when given, receives the same\n"
"rows' first k values (NaN after a row's M).");

/* The rows of x, a float32 or float64 array of 2 or more dimensions, as stats reads them:
 * row r is x[r] flattened in C order (as NumPy's reshape(R, -1)), M numbers each, at buf +
 * r * ld (elements). Where x[r] is not one C-contiguous run (a column slice of a batch), the
 * rows are copied into `copy` (to free), else buf is x's own. */
struct rows {
    Py_buffer view;
    int kind; /* 0 float32, 1 float64 */
    ptrdiff_t count, m, ld;
    const void *buf;
    void *copy;
};

/* The next index of a C-order walk over dims [1, top) of v, *at bytes from the row's start;
 * idx holds each dim's index. */
static void step_index(const Py_buffer *v, int top, ptrdiff_t *idx, ptrdiff_t *at) {
    for (int d = top - 1; d >= 1; d--) {
        *at += v->strides[d];
        if (++idx[d] < v->shape[d]) return;
        *at -= idx[d] * v->strides[d];
        idx[d] = 0;
    }
}

/* x's rows (struct rows): 0, or -1 with an exception set (ValueError for an array stats
 * does not read: another dtype, fewer than 2 dimensions, more than 8, or no numbers a row). */
static int take_rows(PyObject *x, struct rows *r) {
    memset(r, 0, sizeof *r);
    if (PyObject_GetBuffer(x, &r->view, PyBUF_STRIDES | PyBUF_FORMAT) < 0) return -1;
    const Py_buffer *v = &r->view;
    r->kind = strcmp(v->format, "d") == 0 ? 1 : strcmp(v->format, "f") == 0 ? 0 : -1;
    r->count = v->ndim ? v->shape[0] : 0;
    r->m = 1;
    int contiguous = 1;
    for (int d = v->ndim - 1; d >= 1; d--) { /* dims of one number may have any stride */
        if (v->shape[d] > 1 && v->strides[d] != r->m * v->itemsize) contiguous = 0;
        r->m *= v->shape[d];
    }
    if (r->kind < 0 || v->ndim < 2 || v->ndim > 8 || r->m < 1) {
        PyErr_SetString(PyExc_ValueError,
                        "stats: expected a float32 or float64 array (R, M...), M >= 1");
        PyBuffer_Release(&r->view);
        return -1;
    }
    ptrdiff_t size = r->kind ? 8 : 4;
    if (contiguous || r->count == 0) {
        r->buf = v->buf, r->ld = r->count > 1 ? v->strides[0] / size : r->m;
        return 0;
    }
    r->copy = malloc((size_t)(r->count * r->m * size));
    if (!r->copy) {
        PyBuffer_Release(&r->view);
        PyErr_NoMemory();
        return -1;
    }
    /* each row in C order, as reshape copies it: runs along the last axis where it is one
     * (a gate's units of each batch row), else number by number */
    int last = v->ndim - 1, runs = v->shape[last] == 1 || v->strides[last] == v->itemsize;
    int top = runs ? last : v->ndim;
    ptrdiff_t len = runs ? v->shape[last] : 1;
    for (ptrdiff_t i = 0; i < r->count; i++) {
        ptrdiff_t idx[8] = {0}, at = 0;
        const char *row = (const char *)v->buf + i * v->strides[0];
        char *out = (char *)r->copy + i * r->m * size;
        for (ptrdiff_t j = 0; j < r->m; j += len, step_index(v, top, idx, &at))
            memcpy(out + j * size, row + at, (size_t)(len * size));
    }
    r->buf = r->copy, r->ld = r->m;
    return 0;
}

static void release_rows(struct rows *r) {
    free(r->copy);
    PyBuffer_Release(&r->view);
}

/* The first k values of each row of r into rows start + i * step of samples (N, k), NaN after
 * a row's M: the records' samples, exact in float64. */
static void samples_into(const struct rows *r, double *samples, ptrdiff_t k, ptrdiff_t start,
                         ptrdiff_t step) {
    ptrdiff_t m = r->m < k ? r->m : k, size = r->kind ? 8 : 4;
    for (ptrdiff_t i = 0; i < r->count; i++) {
        const char *row = (const char *)r->buf + i * r->ld * size;
        double *o = samples + (start + i * step) * k;
        for (ptrdiff_t j = 0; j < m; j++)
            o[j] = r->kind ? ((const double *)row)[j] : (double)((const float *)row)[j];
        for (ptrdiff_t j = m; j < k; j++) o[j] = NAN;
    }
}

/* The stats of x's rows into out (taken) at columns start + r * step, and their samples when
 * samples (k columns) is given; adds the rows it marks to *marked. -1 with an exception set
 * when x is not such an array or does not fit. */
static int stats_into(PyObject *x, const Py_buffer *out, double *samples, ptrdiff_t k,
                      ptrdiff_t start, ptrdiff_t step, ptrdiff_t *marked) {
    struct rows v;
    if (take_rows(x, &v) < 0) return -1;
    ptrdiff_t rows = v.count, m = v.m, n = out->shape[1];
    if (start < 0 || step < 1 || (rows > 0 && (start >= n || (n - 1 - start) / step < rows - 1))) {
        PyErr_SetString(PyExc_ValueError,
                        "stats: x (R, M >= 1) and out (4, N > start + (R - 1) * step) must agree");
        release_rows(&v);
        return -1;
    }
    stats_fn fn = ISAS[current].stats[v.kind];
    ptrdiff_t ld = v.ld, found = 0;
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
    if (samples) samples_into(&v, samples, k, start, step);
    Py_END_ALLOW_THREADS
    release_rows(&v);
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
    if (PyTuple_Check(x) && start > PY_SSIZE_T_MAX - PyTuple_GET_SIZE(x)) {
        /* the q-th's start + q would overflow (an array of no rows is not checked against
         * out, so a huge start can pass the first and reach the next) */
        PyErr_SetString(PyExc_ValueError, "stats: start is past any out's columns");
        RELEASE_ALL(v, 2);
        return NULL;
    }
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
