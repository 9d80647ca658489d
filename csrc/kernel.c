/* lstm_trace._kernel: the recurrence of a piece of steps in one call (optional; the NumPy
 * path in lstm_trace/cells/lstm_loop.py and gru_loop.py is the reference and the fallback).
 *
 * The loops (body.h) are compiled for AVX-512, AVX2 + FMA and the build's baseline, and the
 * instruction set is chosen when the module loads, from what this CPU reports, never from the
 * build machine's -march: a wheel built anywhere runs anywhere. Arrays arrive through the
 * buffer protocol, so the module needs no NumPy headers to build and imports no NumPy.
 */
#include "common.h"
#include "tanh.h"
#include "dispatch.h"
#include "args.h"
#include "pack.h"
#include "stats.h"

PyDoc_STRVAR(lstm_doc,
"lstm(z, w_hh, h0, c0, outs, cells, gain, offset, w_hr, backward, health=None)\n\n"
"Run an LSTM over the n steps of a piece, in place. z (n, B, 4H): the pre-scaled x W_ih^T + b\n"
"of each step, replaced by the activations [i, f, g, o]; w_hh (P, H_out, PW) packed, scaled\n"
"W_hh^T; h0 (B, H_out) and c0 (B, H) the states before the piece; outs (n, B, H_out) receives\n"
"h_t (any step and row stride); cells (n, B, H) receives C_t; gain, offset (4H,); w_hr packed\n"
"W_hr^T (P, H, PW) or None; backward: visit the steps last first; health (below, above, lo, hi,\n"
"n_low, n_high, n_bad, rows, piece): gate health counted as the steps run into the running\n"
"totals (common.h's health_out), or None. Returns the NaN and Inf counted (0 without health).");

static PyObject *k_lstm(PyObject *self, PyObject *args) {
    PyObject *o[9];
    Py_buffer v[9];
    int backward;
    static const int ndims[9] = {3, 3, 2, 2, 3, 3, 1, 1, 3};
    static const int writes[9] = {1, 0, 0, 0, 1, 1, 0, 0, 0};
    static const char *const names[9] = {"z", "w_hh", "h0", "c0", "outs", "cells", "gain",
                                         "offset", "w_hr"};
    PyObject *health;
    int kind = take_nine(args, o, v, ndims, writes, names, &backward, &health);
    if (kind < 0) return NULL;
    struct lstm_args a;
    a.steps = v[0].shape[0], a.batch = v[0].shape[1], a.hidden = v[0].shape[2] / 4;
    a.hidden_out = v[4].shape[2];
    a.np_hh = panels(&v[1], a.hidden_out, 4 * a.hidden);
    a.np_hr = o[8] == Py_None ? 0 : panels(&v[8], a.hidden, a.hidden_out);
    int ok = a.np_hh >= 4 * a.hidden && a.np_hr >= (o[8] == Py_None ? 0 : a.hidden_out) &&
             PyBuffer_IsContiguous(&v[0], 'C') && PyBuffer_IsContiguous(&v[5], 'C') &&
             PyBuffer_IsContiguous(&v[3], 'C') && v[0].shape[2] == 4 * a.hidden &&
             v[4].shape[0] == a.steps && v[4].shape[1] == a.batch && v[5].shape[0] == a.steps &&
             v[5].shape[1] == a.batch && v[5].shape[2] == a.hidden && v[2].shape[0] == a.batch &&
             v[2].shape[1] == a.hidden_out && v[3].shape[0] == a.batch &&
             v[3].shape[1] == a.hidden && v[6].shape[0] == 4 * a.hidden &&
             v[7].shape[0] == 4 * a.hidden && (o[8] != Py_None || a.hidden_out == a.hidden);
    if (!ok) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "lstm: shapes do not agree");
        RELEASE_ALL(v, 9);
        return NULL;
    }
    Py_buffer hv[HEALTH_ARRAYS];
    if (take_health(health, hv, kind, a.steps, 4 * a.hidden, &a.health) < 0) {
        RELEASE_ALL(v, 9);
        return NULL;
    }
    a.out_step = stride(&v[4], 0), a.out_row = stride(&v[4], 1), a.h0_stride = stride(&v[2], 0);
    a.backward = backward;
    a.z = v[0].buf, a.w_hh = v[1].buf, a.h0 = v[2].buf, a.c0 = v[3].buf, a.outs = v[4].buf;
    a.cells = v[5].buf, a.gain = v[6].buf, a.offset = v[7].buf;
    a.w_hr = o[8] == Py_None ? NULL : v[8].buf;
    size_t n = (size_t)(a.batch * (a.np_hh + a.hidden + a.np_hr));
    a.scratch = PyMem_RawMalloc(n * (size_t)v[0].itemsize);
    if (!a.scratch) {
        RELEASE_ALL(v, 9);
        release_health(hv, &a.health);
        return PyErr_NoMemory();
    }
    lstm_fn fn = ISAS[current].lstm[kind];
    ptrdiff_t bad = 0;
    a.health.bad = &bad;
    Py_BEGIN_ALLOW_THREADS
    run_lstm(fn, &a);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(a.scratch);
    PyObject *result = health_result(&a.health, a.steps, a.batch);
    RELEASE_ALL(v, 9);
    release_health(hv, &a.health);
    return result;
}

PyDoc_STRVAR(gru_doc,
"gru(z, w_hh, h0, outs, resets, gain, offset, b_hn, w_hn, backward, health=None)\n\n"
"Run a GRU over the n steps of a piece, in place. z (n, B, 3H): the pre-scaled x W_ih^T + b,\n"
"replaced by the activations [r, z, n]; w_hh (P, H, PW) packed scaled W_hh^T (3H columns with\n"
"reset_after, the 2H of r and z without); h0 (B, H); outs (n, B, H) receives h_t (any step and\n"
"row stride); resets (n, B, H) receives r * (h W_hn^T + b_hn) or r * h; gain, offset (2H,)\n"
"or longer; b_hn (H,); w_hn packed W_hn^T (P, H, PW) without reset_after, else None; health\n"
"as lstm()'s.");

static PyObject *k_gru(PyObject *self, PyObject *args) {
    PyObject *o[9];
    Py_buffer v[9];
    int backward;
    static const int ndims[9] = {3, 3, 2, 3, 3, 1, 1, 1, 3};
    static const int writes[9] = {1, 0, 0, 1, 1, 0, 0, 0, 0};
    static const char *const names[9] = {"z", "w_hh", "h0", "outs", "resets", "gain", "offset",
                                         "b_hn", "w_hn"};
    PyObject *health;
    int kind = take_nine(args, o, v, ndims, writes, names, &backward, &health);
    if (kind < 0) return NULL;
    struct gru_args a;
    a.steps = v[0].shape[0], a.batch = v[0].shape[1], a.hidden = v[0].shape[2] / 3;
    int after = o[8] == Py_None;
    a.np_hh = panels(&v[1], a.hidden, (after ? 3 : 2) * a.hidden);
    a.np_hn = after ? 0 : panels(&v[8], a.hidden, a.hidden);
    int ok = a.np_hh >= (after ? 3 : 2) * a.hidden && a.np_hn >= (after ? 0 : a.hidden) &&
             PyBuffer_IsContiguous(&v[0], 'C') && PyBuffer_IsContiguous(&v[4], 'C') &&
             v[0].shape[2] == 3 * a.hidden && v[2].shape[0] == a.batch &&
             v[2].shape[1] == a.hidden && v[3].shape[0] == a.steps && v[3].shape[1] == a.batch &&
             v[3].shape[2] == a.hidden && v[4].shape[0] == a.steps && v[4].shape[1] == a.batch &&
             v[4].shape[2] == a.hidden && v[5].shape[0] >= 2 * a.hidden &&
             v[6].shape[0] >= 2 * a.hidden && v[7].shape[0] == a.hidden;
    if (!ok) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "gru: shapes do not agree");
        RELEASE_ALL(v, 9);
        return NULL;
    }
    Py_buffer hv[HEALTH_ARRAYS];
    if (take_health(health, hv, kind, a.steps, 3 * a.hidden, &a.health) < 0) {
        RELEASE_ALL(v, 9);
        return NULL;
    }
    a.out_step = stride(&v[3], 0), a.out_row = stride(&v[3], 1), a.h0_stride = stride(&v[2], 0);
    a.backward = backward;
    a.z = v[0].buf, a.w_hh = v[1].buf, a.h0 = v[2].buf, a.outs = v[3].buf, a.resets = v[4].buf;
    a.gain = v[5].buf, a.offset = v[6].buf, a.b_hn = v[7].buf;
    a.w_hn = after ? NULL : v[8].buf;
    size_t n = (size_t)(a.batch * (a.np_hh + a.np_hn));
    a.scratch = PyMem_RawMalloc((n ? n : 1) * (size_t)v[0].itemsize);
    if (!a.scratch) {
        RELEASE_ALL(v, 9);
        release_health(hv, &a.health);
        return PyErr_NoMemory();
    }
    gru_fn fn = ISAS[current].gru[kind];
    ptrdiff_t bad = 0;
    a.health.bad = &bad;
    Py_BEGIN_ALLOW_THREADS
    run_gru(fn, &a);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(a.scratch);
    PyObject *result = health_result(&a.health, a.steps, a.batch);
    RELEASE_ALL(v, 9);
    release_health(hv, &a.health);
    return result;
}

PyDoc_STRVAR(product_doc,
"product(h, packed, out)\n\n"
"out (B, P * PW) = h (B, K) W^T, W^T packed (P, K, PW) as the loops read it: the recurrent\n"
"product of a hooked step, the same bits as inside the loop.");

static PyObject *k_product(PyObject *self, PyObject *args) {
    PyObject *o[3];
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2])) return NULL;
    int kind = kind_of(o[0]);
    if (kind < 0) return NULL;
    Py_buffer v[3];
    memset(v, 0, sizeof v);
    static const int ndims[3] = {2, 3, 2};
    static const char *names[3] = {"h", "packed", "out"};
    for (int q = 0; q < 3; q++) {
        if (take(o[q], &v[q], ndims[q], q == 2, kind, names[q]) < 0) {
            RELEASE_ALL(v, 3);
            return NULL;
        }
    }
    ptrdiff_t np_ = panels(&v[1], v[0].shape[1], -1); /* out holds all */
    if (np_ < 0 || v[2].shape[0] != v[0].shape[0] || v[2].shape[1] != np_ ||
        !PyBuffer_IsContiguous(&v[2], 'C')) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "product: shapes do not agree");
        RELEASE_ALL(v, 3);
        return NULL;
    }
    if (v[0].shape[0] > 0) /* no rows: nothing to write, however many (empty) panels */
        ISAS[current].product[kind](v[0].buf, stride(&v[0], 0), v[0].shape[0], v[1].buf,
                                    v[2].buf, v[0].shape[1], np_, 0, np_ / (128 / v[0].itemsize));
    RELEASE_ALL(v, 3);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(project_doc,
"project(x, packed, bias, out)\n\n"
"out (c*B, N) = x (c, B, K) W^T + bias (N,), x of any step and row strides (read in place),\n"
"W^T packed (P, K, PW), P * PW >= N: a block's input projection, its panels shared among\n"
"threads when it is large.");

static PyObject *k_project(PyObject *self, PyObject *args) {
    PyObject *o[4];
    if (!PyArg_ParseTuple(args, "OOOO", &o[0], &o[1], &o[2], &o[3])) return NULL;
    int kind = kind_of(o[0]);
    if (kind < 0) return NULL;
    Py_buffer v[4];
    memset(v, 0, sizeof v);
    static const int ndims[4] = {3, 3, 1, 2};
    static const char *names[4] = {"x", "packed", "bias", "out"};
    for (int q = 0; q < 4; q++) {
        if (take(o[q], &v[q], ndims[q], q == 3, kind, names[q]) < 0) {
            RELEASE_ALL(v, 4);
            return NULL;
        }
    }
    /* x (c, B, K), any step and row strides: read in place, never copied */
    ptrdiff_t steps = v[0].shape[0], batch = v[0].shape[1], k = v[0].shape[2];
    ptrdiff_t rows = steps * batch, n = v[3].shape[1], np_ = panels(&v[1], k, n);
    if (np_ < n || v[3].shape[0] != rows || v[2].shape[0] != n ||
        !PyBuffer_IsContiguous(&v[3], 'C') || !PyBuffer_IsContiguous(&v[2], 'C')) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "project: shapes do not agree");
        RELEASE_ALL(v, 4);
        return NULL;
    }
    ptrdiff_t sx = stride(&v[0], 0), sb = stride(&v[0], 1);
    if (batch == 1) /* rows evenly spaced: one group, tiles of 8 rows across the steps */
        sb = sx, batch = steps, steps = 1;
    else if (sx == batch * sb)
        batch = rows, steps = 1;
    gemm_fn fn = ISAS[current].gemm[kind];
    ptrdiff_t count = np_ / (128 / v[0].itemsize);
    int nth = threads_for(rows * k * n / 8); /* one call: no per-step barriers to repay */
    (void)nth; /* unused without OpenMP */
    Py_BEGIN_ALLOW_THREADS
#ifdef _OPENMP
    if (nth > 1) { /* not an if() clause: a team of one still enters OpenMP's runtime */
#pragma omp parallel num_threads(nth)
        {
            ptrdiff_t p0, p1;
            team_share(count, &p0, &p1);
            fn(v[0].buf, steps, sx, sb, batch, v[1].buf, v[3].buf, n, k, n, v[2].buf, p0, p1);
        }
    } else
#endif
        fn(v[0].buf, steps, sx, sb, batch, v[1].buf, v[3].buf, n, k, n, v[2].buf, 0, count);
    Py_END_ALLOW_THREADS
    RELEASE_ALL(v, 4);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(health_doc,
"health(x, health)\n\n"
"Gate health of a block x (c, B, W) C order, in one pass: health as lstm()'s (below, above,\n"
"lo, hi, n_low, n_high, n_bad, rows, piece), piece (c,) the segment of each step: the counts\n"
"the loop makes of its steps, made of steps it did not count (a hooked step's, a block of\n"
"the NumPy path's). Columns shared among threads when the block is large. Returns the NaN\n"
"and Inf counted.");

static PyObject *k_health(PyObject *self, PyObject *args) {
    PyObject *o[2];
    if (!PyArg_ParseTuple(args, "OO", &o[0], &o[1])) return NULL;
    int kind = kind_of(o[0]);
    if (kind < 0) return NULL;
    Py_buffer v, hv[HEALTH_ARRAYS];
    if (take(o[0], &v, 3, 0, kind, "x") < 0) return NULL;
    ptrdiff_t steps = v.shape[0], batch = v.shape[1], width = v.shape[2];
    struct health_out out;
    if (!PyBuffer_IsContiguous(&v, 'C')) {
        PyErr_SetString(PyExc_ValueError, "health: x must be C order");
        PyBuffer_Release(&v);
        return NULL;
    }
    if (take_health(o[1], hv, kind, steps, width, &out) < 0 || !out.lo) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "health: arrays needed, not None");
        PyBuffer_Release(&v);
        release_health(hv, &out);
        return NULL;
    }
    health_fn fn = ISAS[current].health[kind];
    ptrdiff_t bad = 0;
    out.bad = &bad;
    ptrdiff_t chunks = (width + 15) / 16; /* a thread's columns: whole runs of 16 */
    int nth = threads_for(steps * batch * width / 4); /* a compare costs a quarter of a MAC */
    nth = nth < chunks ? nth : (int)chunks;
    (void)nth; /* unused without OpenMP */
    Py_BEGIN_ALLOW_THREADS
#ifdef _OPENMP
#pragma omp parallel num_threads(nth) if (nth > 1)
#endif
    {
        ptrdiff_t a, b;
        team_share(chunks, &a, &b);
        ptrdiff_t j1 = b * 16 < width ? b * 16 : width;
        if (a * 16 < j1) {
            ptrdiff_t found = fn(v.buf, steps, batch, 1, width, &out, a * 16, j1);
            if (found) __atomic_fetch_add(&bad, found, __ATOMIC_RELAXED);
        }
    }
    Py_END_ALLOW_THREADS
    PyObject *result = health_result(&out, steps, batch);
    PyBuffer_Release(&v);
    release_health(hv, &out);
    return result;
}

PyDoc_STRVAR(tanh_doc,
"tanh(x, out)\n\n"
"out = tanh(x), elementwise, C-order arrays of one size (out may be x): the kernel's own tanh,\n"
"within 3 ulps of the correctly rounded value in float32, 3.3e-15 relative in float64.");

static PyObject *k_tanh(PyObject *self, PyObject *args) {
    PyObject *o[2];
    if (!PyArg_ParseTuple(args, "OO", &o[0], &o[1])) return NULL;
    int kind = kind_of(o[0]);
    if (kind < 0) return NULL;
    Py_buffer v[2];
    memset(v, 0, sizeof v);
    int flags[2] = {PyBUF_C_CONTIGUOUS | PyBUF_FORMAT,
                    PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE};
    for (int q = 0; q < 2; q++) {
        if (PyObject_GetBuffer(o[q], &v[q], flags[q]) < 0) {
            RELEASE_ALL(v, 2);
            return NULL;
        }
    }
    if (strcmp(v[0].format, v[1].format) != 0 || v[0].len != v[1].len ||
        strcmp(v[0].format, kind ? "d" : "f") != 0) {
        PyErr_SetString(PyExc_ValueError, "tanh: x and out must be float32 or float64 alike");
        RELEASE_ALL(v, 2);
        return NULL;
    }
    ISAS[current].tanh[kind](v[0].buf, v[1].buf, v[0].len / v[0].itemsize);
    RELEASE_ALL(v, 2);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"lstm", k_lstm, METH_VARARGS, lstm_doc},
    {"gru", k_gru, METH_VARARGS, gru_doc},
    {"product", k_product, METH_VARARGS, product_doc},
    {"tanh", k_tanh, METH_VARARGS, tanh_doc},
    {"project", k_project, METH_VARARGS, project_doc},
    {"health", k_health, METH_VARARGS, health_doc},
    {"pack", k_pack, METH_VARARGS, pack_doc},
    {"stats", k_stats, METH_VARARGS, stats_doc},
    {"isa", k_isa, METH_NOARGS, "The instruction set in use: 'avx512', 'avx2' or 'baseline'."},
    {"isas", k_isas, METH_NOARGS, "The instruction sets this CPU can run, baseline first."},
    {"set_isa", k_set_isa, METH_O, "Use another of isas() (tests compare them)."},
    {"set_threads", k_set_threads, METH_O,
     "Threads for a step of THREAD_MACS or more multiply-adds: 0 for OpenMP's choice."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernel",
    "The compiled recurrence of lstm-trace (optional; see lstm_trace/cells/kernel.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__kernel(void) {
    reuse_buffers();
#ifdef _OPENMP
    if (pthread_atfork(NULL, NULL, after_fork_in_child) != 0) {
        PyErr_SetString(PyExc_ImportError, "_kernel: pthread_atfork failed");
        return NULL;
    }
#endif
    for (int k = N_ISAS - 1; k > 0; k--) {
        if (supported(k)) {
            current = k;
            break;
        }
    }
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddIntConstant(m, "PANEL_BYTES", 128) < 0) Py_CLEAR(m);
    if (m && PyModule_AddIntConstant(m, "THREAD_MACS", THREAD_MACS) < 0) Py_CLEAR(m);
#ifdef _OPENMP
    if (m && PyModule_AddIntConstant(m, "OPENMP", 1) < 0) Py_CLEAR(m);
#else
    if (m && PyModule_AddIntConstant(m, "OPENMP", 0) < 0) Py_CLEAR(m);
#endif
    return m;
}
