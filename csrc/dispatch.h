/* The loops of body.h compiled for each instruction set and number type, the table the module
 * chooses from when it loads, and how many threads a step gets. Included by kernel.c. */
/* ---- the loops, once per target and type ---- */

#define TILE_ROWS 2 /* rows a tile keeps in registers: 2 x 2 vectors of 64 bytes fit 16 */
#define REAL float
#define TANH tanh_f32
#define SUFFIX f32_base
#include "body.h"
#undef SUFFIX
#undef REAL
#undef TANH
#define REAL double
#define TANH tanh_f64
#define SUFFIX f64_base
#include "body.h"
#undef SUFFIX
#undef REAL
#undef TANH

#if KERNEL_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define REAL float
#define TANH tanh_f32
#define SUFFIX f32_avx2
#include "body.h"
#undef SUFFIX
#undef REAL
#undef TANH
#define REAL double
#define TANH tanh_f64
#define SUFFIX f64_avx2
#include "body.h"
#undef SUFFIX
#undef REAL
#undef TANH
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma")
#undef TILE_ROWS
#define TILE_ROWS 8 /* 8 x 2 accumulators and 2 weight vectors: 18 of the 32 registers */
#define REAL float
#define TANH tanh_f32
#define SUFFIX f32_avx512
#include "body.h"
#undef SUFFIX
#undef REAL
#undef TANH
#define REAL double
#define TANH tanh_f64
#define SUFFIX f64_avx512
#include "body.h"
#undef SUFFIX
#undef REAL
#undef TANH
#pragma GCC pop_options
#endif

/* ---- dispatch ---- */

typedef void (*lstm_fn)(const struct lstm_args *, int, int);
typedef void (*gru_fn)(const struct gru_args *, int, int);
typedef void (*product_fn)(const void *, ptrdiff_t, ptrdiff_t, const void *, void *, ptrdiff_t,
                           ptrdiff_t, ptrdiff_t, ptrdiff_t);
typedef void (*tanh_fn)(const void *, void *, ptrdiff_t);
typedef ptrdiff_t (*health_fn)(const void *, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                          const struct health_out *, ptrdiff_t, ptrdiff_t);
typedef ptrdiff_t (*stats_fn)(const void *, ptrdiff_t, ptrdiff_t, double *, ptrdiff_t, ptrdiff_t,
                              ptrdiff_t, ptrdiff_t, ptrdiff_t);
typedef void (*gemm_fn)(const void *, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, const void *,
                        void *, ptrdiff_t, ptrdiff_t, ptrdiff_t, const void *, ptrdiff_t,
                        ptrdiff_t);

struct isa {
    const char *name;
    lstm_fn lstm[2]; /* [float32, float64] */
    gru_fn gru[2];
    product_fn product[2];
    tanh_fn tanh[2];
    gemm_fn gemm[2];
    health_fn health[2];
    stats_fn stats[2];
};

#define ISA(name, s)                                                                  \
    {name, {lstm_f32_##s, lstm_f64_##s}, {gru_f32_##s, gru_f64_##s},                 \
     {(product_fn)product_f32_##s, (product_fn)product_f64_##s},                      \
     {(tanh_fn)tanh_all_f32_##s, (tanh_fn)tanh_all_f64_##s},                        \
     {(gemm_fn)gemm_f32_##s, (gemm_fn)gemm_f64_##s},                                \
     {(health_fn)health_late_f32_##s, (health_fn)health_late_f64_##s},                        \
     {(stats_fn)stats_f32_##s, (stats_fn)stats_f64_##s}}
static const struct isa ISAS[] = {
    ISA("baseline", base),
#if KERNEL_X86
    ISA("avx2", avx2),
    ISA("avx512", avx512),
#endif
};
#undef ISA
#define N_ISAS ((int)(sizeof ISAS / sizeof ISAS[0]))

static int supported(int k) {
#if KERNEL_X86
    __builtin_cpu_init();
    if (k == 1) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (k == 2)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq");
#endif
    return k == 0;
}

static int current = 0; /* index into ISAS */

/* A step of fewer multiply-adds than this runs on one thread. A step shared out waits at two
 * barriers, about a microsecond each on an idle machine and up to a scheduler tick when
 * another process holds a core; 2^21 multiply-adds (10 to 20 us of one core) keep that cost a
 * small share (B = 1, H = 256, 2^18 a step, ran 1.5 to 6 x slower on two threads than on one
 * on a busy 2-core machine). */
#define THREAD_MACS (1 << 21)

static int forced_threads = 0; /* set_threads(): 0 for OpenMP's choice */

/* fork copies only the calling thread: a child of a process whose OpenMP threads have started
 * would wait for them at its first barrier forever. Such a child runs on one thread (the same
 * bits: each column is summed in one order whatever the count). */
#ifdef _OPENMP
static int threads_started = 0, lost_threads = 0;
static void after_fork_in_child(void) { lost_threads = threads_started; }
#endif

/* How many threads a pass of `macs` multiply-adds a step uses: one below THREAD_MACS (or in a
 * forked child), else OpenMP's (OMP_NUM_THREADS, or the cores). */
static int threads_for(ptrdiff_t macs) {
#ifdef _OPENMP
    if (macs >= THREAD_MACS && !lost_threads) {
        int n = forced_threads ? forced_threads : omp_get_max_threads();
        if (n > 1) threads_started = 1;
        return n;
    }
#endif
    (void)macs;
    return 1;
}

/* This thread's share [*a, *b) of n items among the threads of the parallel region it is in
 * (all of them when not in one): contiguous runs, each item one thread's. */
static void team_share(ptrdiff_t n, ptrdiff_t *a, ptrdiff_t *b) {
#ifdef _OPENMP
    int tid = omp_get_thread_num(), all = omp_get_num_threads();
#else
    int tid = 0, all = 1;
#endif
    *a = n * tid / all, *b = n * (tid + 1) / all;
}

/* fn(a, tid, nth) on a team of nth threads (inline when nth is 1): every thread walks the
 * same steps and takes its share of each. */
#ifdef _OPENMP
#define RUN_TEAM(fn, a, nth)                                        \
    do {                                                            \
        int nth_ = (nth);                                           \
        if (nth_ > 1) {                                             \
            _Pragma("omp parallel num_threads(nth_)")               \
            (fn)((a), omp_get_thread_num(), omp_get_num_threads()); \
        } else {                                                    \
            (fn)((a), 0, 1);                                        \
        }                                                           \
    } while (0)
#else
#define RUN_TEAM(fn, a, nth) ((void)(nth), (fn)((a), 0, 1))
#endif

static void run_lstm(lstm_fn fn, const struct lstm_args *a) {
    RUN_TEAM(fn, a, threads_for(a->batch * a->hidden_out * a->np_hh +
                                a->batch * a->hidden * a->np_hr));
}

static void run_gru(gru_fn fn, const struct gru_args *a) {
    RUN_TEAM(fn, a, threads_for(a->batch * a->hidden * (a->np_hh + a->np_hn)));
}

/* ---- the module's functions of instruction sets and threads ---- */

static PyObject *k_isa(PyObject *self, PyObject *noargs) { return PyUnicode_FromString(ISAS[current].name); }

static PyObject *k_isas(PyObject *self, PyObject *noargs) {
    PyObject *out = PyList_New(0);
    for (int k = 0; out && k < N_ISAS; k++) {
        if (!supported(k)) continue;
        PyObject *s = PyUnicode_FromString(ISAS[k].name);
        if (!s || PyList_Append(out, s) < 0) Py_CLEAR(out);
        Py_XDECREF(s);
    }
    return out;
}

static PyObject *k_set_isa(PyObject *self, PyObject *arg) {
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name) return NULL;
    for (int k = 0; k < N_ISAS; k++) {
        if (strcmp(ISAS[k].name, name) == 0 && supported(k)) {
            current = k;
            Py_RETURN_NONE;
        }
    }
    PyErr_Format(PyExc_ValueError, "instruction set %s is not available on this CPU", name);
    return NULL;
}

static PyObject *k_set_threads(PyObject *self, PyObject *arg) {
    int overflow; /* an int beyond a C long is out of range too, not an OverflowError */
    long n = PyLong_AsLongAndOverflow(arg, &overflow);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (overflow || n < 0 || n > 1024) {
        PyErr_SetString(PyExc_ValueError, "set_threads: 0 (OpenMP's choice) to 1024");
        return NULL;
    }
    forced_threads = (int)n;
    Py_RETURN_NONE;
}

/* glibc serves an allocation of 128 KB or more with fresh pages (mmap) and returns the top of
 * its heap once 128 KB of it is free, until a large block has been freed once (its dynamic
 * thresholds then rise). Each pass's buffers (blocks, outputs) and each block's records'
 * arrays came back as fresh pages, each page a fault: 412 faults a pass at T = 1000, H = 70,
 * more time than the arithmetic of a full trace. Setting the thresholds glibc's adaptation
 * reaches at most (32 MB, trimming beyond twice that) from the start lets them be reused;
 * where the kernel (the fast path) is loaded, and only there. */
static void reuse_buffers(void) {
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}
