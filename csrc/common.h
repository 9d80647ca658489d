/* What every part of the kernel shares: headers, the barrier, the arguments of the loops.
 * Included once, by kernel.c (the parts are headers so that the loops inline into one unit). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h> /* mallopt */
#endif
#ifdef _OPENMP
#include <omp.h>
#include <pthread.h>
/* every thread of the team waits here (orphaned: binds to the loop's parallel region) */
#define BARRIER(nth)                 \
    do {                             \
        if ((nth) > 1) {             \
            _Pragma("omp barrier")   \
        }                            \
    } while (0)
#else
#define BARRIER(nth) ((void)(nth))
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define KERNEL_X86 1
#else
#define KERNEL_X86 0
#endif

/* Gate health counted inside the loop, while a step's activations are in cache (health.py);
 * lo NULL when not asked for. For the G*H columns: lo, hi running extremes (NaN-ignoring);
 * below, above each column's gate's thresholds; n_low, n_high (S, G*H) int64 per segment of
 * time and column, += the values below and above; n_bad (G*H,) int64 += the NaN and Inf
 * values; piece (steps,) int64 the segment of each step (time order), an index into n_low's
 * rows. *bad, a call's own, += every NaN and Inf counted (threads add atomically). The
 * caller adds each step's rows into the segments' row counts (args.h's health_result). */
struct health_out {
    void *lo, *hi;
    int64_t *n_low, *n_high, *n_bad, *rows;
    const int64_t *piece;
    const void *below, *above;
    ptrdiff_t *bad;
};

struct lstm_args {
    ptrdiff_t steps, batch, hidden, hidden_out, np_hh, np_hr, out_step, out_row, h0_stride;
    int backward;
    void *z, *cells, *outs, *scratch;
    const void *h0, *c0, *w_hh, *w_hr, *gain, *offset;
    struct health_out health;
};

struct gru_args {
    ptrdiff_t steps, batch, hidden, np_hh, np_hn, out_step, out_row, h0_stride;
    int backward;
    void *z, *resets, *outs, *scratch;
    const void *h0, *w_hh, *w_hn, *b_hn, *gain, *offset;
    struct health_out health;
};
