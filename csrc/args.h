/* The module's arguments: arrays through the buffer protocol, checked before any is read.
 * Included by kernel.c. */
/* ---- arguments ---- */

/* A buffer of ndim dimensions of float32 (kind 0) or float64 (kind 1), its last dimension
 * contiguous; writable if asked. Sets a Python error and returns -1 otherwise. */
static int take(PyObject *obj, Py_buffer *view, int ndim, int writable, int kind, const char *what) {
    int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    const char *want = kind ? "d" : "f";
    if (view->ndim != ndim || strcmp(view->format, want) != 0 ||
        (view->strides[ndim - 1] != view->itemsize && view->shape[ndim - 1] > 1)) {
        PyErr_Format(PyExc_ValueError, "%s: expected a %d-d %s array, last axis contiguous",
                     what, ndim, kind ? "float64" : "float32");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int kind_of(PyObject *obj) {
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_FORMAT | PyBUF_STRIDES) < 0) return -1;
    int kind = strcmp(v.format, "d") == 0 ? 1 : 0;
    PyBuffer_Release(&v);
    return kind;
}

static ptrdiff_t stride(const Py_buffer *v, int axis) { return v->strides[axis] / v->itemsize; }

/* Packed weights (P, K, PW) of n columns: their padded column count P * PW, or -1 (a Python
 * error set) unless K is k and P is exactly the ceil(n / PW) panels n columns fill (n < 0:
 * any P, for product(), whose output holds all P * PW). The loops size their scratch and
 * count their work from P: a larger P of empty panels (K = 0 holds no bytes, whatever P) made
 * a size that wrapped past 2^64 and a product that wrote far beyond it. */
static ptrdiff_t panels(const Py_buffer *v, ptrdiff_t k, ptrdiff_t n) {
    ptrdiff_t pw = 128 / v->itemsize, want = n < 0 ? v->shape[0] : (n + pw - 1) / pw;
    if (v->shape[1] != k || v->shape[2] != pw || v->shape[0] != want ||
        !PyBuffer_IsContiguous(v, 'C')) {
        PyErr_Format(PyExc_ValueError,
                     "packed weights: expected (%zd, %zd, %zd) C order, got (%zd, %zd, %zd)",
                     want, k, pw, v->shape[0], v->shape[1], v->shape[2]);
        return -1;
    }
    return v->shape[0] * pw;
}

#define RELEASE_ALL(views, n) \
    for (int q_ = 0; q_ < (n); q_++) \
        if ((views)[q_].obj) PyBuffer_Release(&(views)[q_]);

/* The nine arrays and the flag of lstm() and gru() (the ninth may be None), as buffers into v,
 * and the optional health tuple (None when absent) into *health. Returns the number kind (0
 * float32, 1 float64), or -1 with a Python error set and nothing held. */
static int take_nine(PyObject *args, PyObject **o, Py_buffer *v, const int *ndims,
                     const int *writes, const char *const *names, int *backward,
                     PyObject **health) {
    *health = Py_None;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOp|O", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
                          &o[7], &o[8], backward, health))
        return -1;
    int kind = kind_of(o[0]);
    if (kind < 0) return -1;
    memset(v, 0, 9 * sizeof *v);
    for (int q = 0; q < 9; q++) {
        if (q == 8 && o[q] == Py_None) continue;
        if (take(o[q], &v[q], ndims[q], writes[q], kind, names[q]) < 0) {
            RELEASE_ALL(v, 9);
            return -1;
        }
    }
    return kind;
}

/* health = (below, above, lo, hi, n_low, n_high, n_bad, rows, piece) or None, for `steps`
 * steps of W columns, as buffers into hv (HEALTH_ARRAYS) and pointers into *out (lo NULL for
 * None): below, above, lo, hi (W,) of the pass's kind; n_low, n_high (S, W) int64; n_bad
 * (W,) int64; rows (S,) int64; piece (steps,) int64, each in [0, S); all C order, the counts
 * and extremes writable. Returns 0 (release_health() then releases what it holds), or -1
 * with a Python error set and nothing held. */
#define HEALTH_ARRAYS 9
static int take_health(PyObject *health, Py_buffer *hv, int kind, ptrdiff_t steps, ptrdiff_t W,
                       struct health_out *out) {
    memset(hv, 0, HEALTH_ARRAYS * sizeof *hv);
    memset(out, 0, sizeof *out);
    if (health == Py_None) return 0;
    if (!PyTuple_Check(health)) { /* ParseTuple would take any other object as a SystemError */
        PyErr_Format(PyExc_TypeError, "health: expected a tuple of 9 arrays or None, got %s",
                     Py_TYPE(health)->tp_name);
        return -1;
    }
    PyObject *o[HEALTH_ARRAYS];
    if (!PyArg_ParseTuple(health, "OOOOOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
                          &o[7], &o[8]))
        return -1;
    const ptrdiff_t isz = kind ? 8 : 4;
    int ok = 1;
    for (int q = 0; q < HEALTH_ARRAYS && ok; q++) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (q >= 2 && q < 8 ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(o[q], &hv[q], flags) < 0) {
            RELEASE_ALL(hv, HEALTH_ARRAYS);
            return -1;
        }
        const char *f = hv[q].format;
        if (q < 4)
            ok = strcmp(f, kind ? "d" : "f") == 0 && hv[q].len == W * isz;
        else
            ok = (strcmp(f, "q") == 0 || strcmp(f, "l") == 0) && hv[q].itemsize == 8;
    }
    ptrdiff_t segments = ok && W > 0 ? hv[4].len / (W * 8) : 0;
    ok = ok && segments > 0 && hv[4].len == segments * W * 8 && hv[5].len == hv[4].len &&
         hv[6].len == W * 8 && hv[7].len == segments * 8 && hv[8].len == steps * 8;
    /* piece indexes the counts, so the loops read a copy, checked: the caller's piece may
     * share memory with the counts or the activations the call writes (or another thread's
     * array, written while the call runs without the GIL), and a value changed mid-call
     * would index past n_low and rows */
    int64_t *piece = ok ? PyMem_RawMalloc((size_t)(steps ? steps : 1) * sizeof *piece) : NULL;
    if (ok && !piece) {
        RELEASE_ALL(hv, HEALTH_ARRAYS);
        PyErr_NoMemory();
        return -1;
    }
    if (ok) memcpy(piece, hv[8].buf, (size_t)steps * sizeof *piece);
    for (ptrdiff_t t = 0; ok && t < steps; t++) ok = piece[t] >= 0 && piece[t] < segments;
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "health: arrays do not agree with the pass");
        PyMem_RawFree(piece);
        RELEASE_ALL(hv, HEALTH_ARRAYS);
        return -1;
    }
    out->below = hv[0].buf, out->above = hv[1].buf, out->lo = hv[2].buf, out->hi = hv[3].buf;
    out->n_low = (int64_t *)hv[4].buf, out->n_high = (int64_t *)hv[5].buf;
    out->n_bad = (int64_t *)hv[6].buf, out->rows = (int64_t *)hv[7].buf, out->piece = piece;
    return 0;
}

/* What take_health() holds released: its buffers and its copy of piece. */
static void release_health(Py_buffer *hv, struct health_out *out) {
    RELEASE_ALL(hv, HEALTH_ARRAYS);
    PyMem_RawFree((void *)out->piece);
    out->piece = NULL;
}

/* After a call's `steps` steps of `batch` rows ran with health counted (o->lo set): each
 * step's rows into its segment's row count, and the call's NaN and Inf (*o->bad) as the
 * Python int the call returns (0 without health). */
static PyObject *health_result(const struct health_out *o, ptrdiff_t steps, ptrdiff_t batch) {
    if (!o->lo) return PyLong_FromLong(0);
    for (ptrdiff_t t = 0; t < steps; t++) o->rows[o->piece[t]] += batch;
    return PyLong_FromSsize_t(*o->bad);
}
