/* stats(x, out): the records' statistics (summary.stats_rows) of many rows in one call.
 * Included by kernel.c after args.h; the loops are body.h's (per instruction set). */

PyDoc_STRVAR(stats_doc,
"stats(x, out, start=0, step=1) -> marked\n\n"
"out[:, start + r * step] (out (4, N) float64 C order) = the min, max, mean and std\n"
"(population) of row r of x (R, M)\n"
"float32 or float64, last axis contiguous, any row stride: NumPy's float64 sums (pairwise, in\n"
"its order), so the same bits as summary.stats_rows's NumPy path. NaN in all four for a row\n"
"whose sum is not finite (a NaN or an Inf in it) or whose zero extreme sits beside a -0: the\n"
"caller's NumPy path does those; returns how many.");

static PyObject *k_stats(PyObject *self, PyObject *args) {
    PyObject *o[2];
    Py_ssize_t start = 0, step = 1;
    if (!PyArg_ParseTuple(args, "OO|nn", &o[0], &o[1], &start, &step)) return NULL;
    int kind = kind_of(o[0]);
    if (kind < 0) return NULL;
    Py_buffer v[2];
    memset(v, 0, sizeof v);
    if (take(o[0], &v[0], 2, 0, kind, "x") < 0) return NULL;
    if (take(o[1], &v[1], 2, 1, 1, "out") < 0) {
        RELEASE_ALL(v, 2);
        return NULL;
    }
    ptrdiff_t rows = v[0].shape[0], m = v[0].shape[1], n = v[1].shape[1];
    if (v[1].shape[0] != 4 || !PyBuffer_IsContiguous(&v[1], 'C') || m < 1 || start < 0 ||
        step < 1 || (rows > 0 && (start >= n || (n - 1 - start) / step < rows - 1))) {
        PyErr_SetString(PyExc_ValueError,
                        "stats: x (R, M >= 1) and out (4, N > start + (R - 1) * step) must agree");
        RELEASE_ALL(v, 2);
        return NULL;
    }
    stats_fn fn = ISAS[current].stats[kind];
    ptrdiff_t ld = stride(&v[0], 0);
    int nth = threads_for(rows * m); /* each row one thread's: the same bits */
    nth = nth < rows ? nth : (int)(rows > 0 ? rows : 1);
    (void)nth; /* unused without OpenMP */
    ptrdiff_t marked = 0;
    Py_BEGIN_ALLOW_THREADS
#ifdef _OPENMP
#pragma omp parallel num_threads(nth) if (nth > 1) reduction(+ : marked)
#endif
    {
        ptrdiff_t r0, r1;
        team_share(rows, &r0, &r1);
        marked += fn(v[0].buf, ld, m, v[1].buf, n, start, step, r0, r1);
    }
    Py_END_ALLOW_THREADS
    RELEASE_ALL(v, 2);
    return PyLong_FromSsize_t(marked);
}
