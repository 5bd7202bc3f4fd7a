/*
 * Span start + 4 attributes + end through the C ABI, beside the Rust core's own figure for
 * the same span run in the same process (dagnats_bench_core_spans, from bench-core). Both
 * use the core's no-op sink, which recycles span records, so the figures compare the span
 * work and the boundary, not delivery.
 *
 *   bench [SPANS_PER_ROUND [ROUNDS]]      defaults: 100000 spans, 21 rounds
 *
 * Both sides are timed here with the same clock, the thread's CPU time, so that time the
 * machine gives to other processes is not counted. Rounds alternate between the two; each
 * side's figure is its fastest round (other work only ever adds time, through caches);
 * the medians are printed beside. The last line is "RATIO ...": the C ABI's cost over
 * the core's, against the 1.3x target. A slow or busy machine changes the figures, never
 * the exit status: only failing calls do.
 */
#define _POSIX_C_SOURCE 200809L

#include "dagnats_observe.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* From bench-core, linked into this program only (left out of the header): the same
   spans through the Rust API, on a no-op telemetry of its own. */
typedef struct bench_core bench_core;
bench_core *dagnats_bench_core_new(void);
bool dagnats_bench_core_spans(const bench_core *core, uint64_t iterations);
void dagnats_bench_core_free(bench_core *core);

/* What the C target is, as a multiple of the core's time per span. */
#define TARGET_RATIO 1.3

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int failures;

static void check(dagnats_result r) {
    if (r != DAGNATS_RESULT_OK) failures++;
}

static double c_abi_span_ns(const dagnats_tracer *tracer, uint64_t n) {
    double start = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        dagnats_span *span = NULL;
        check(dagnats_tracer_start_span(tracer, "worker.executeTask", DAGNATS_SPAN_KIND_SERVER, NULL, NULL, 0, &span));
        check(dagnats_span_set_attribute_string(span, "run_id", "r-42"));
        check(dagnats_span_set_attribute_string(span, "step_id", "build"));
        check(dagnats_span_set_attribute_int64(span, "attempt", 2));
        check(dagnats_span_set_attribute_bool(span, "cached", false));
        check(dagnats_span_end(&span));
    }
    return (now_ns() - start) / (double)n;
}

static double core_span_ns(const bench_core *core, uint64_t n) {
    double start = now_ns();
    if (!dagnats_bench_core_spans(core, n)) failures++;
    return (now_ns() - start) / (double)n;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    int rounds = argc > 2 ? atoi(argv[2]) : 21;
    if (n == 0) n = 1;
    if (rounds < 1) rounds = 1;
    if (rounds > 64) rounds = 64;

    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = NULL;
    check(dagnats_telemetry_noop("bench", &tel));
    check(dagnats_telemetry_tracer(tel, &tracer));
    bench_core *core_tel = dagnats_bench_core_new();
    if (failures || !core_tel) {
        fprintf(stderr, "bench: setup failed\n");
        return 1;
    }

    /* Warm up both paths (allocator, caches, id generator). */
    c_abi_span_ns(tracer, n / 10 + 1);
    core_span_ns(core_tel, n / 10 + 1);

    double c[64], core[64];
    for (int r = 0; r < rounds; r++) {
        c[r] = c_abi_span_ns(tracer, n);
        core[r] = core_span_ns(core_tel, n);
    }
    qsort(c, (size_t)rounds, sizeof c[0], by_value);
    qsort(core, (size_t)rounds, sizeof core[0], by_value);
    double c_ns = c[0], core_ns = core[0];

    dagnats_tracer_free(tracer);
    check(dagnats_telemetry_free(tel));
    dagnats_bench_core_free(core_tel);
    if (failures) {
        fprintf(stderr, "bench: %d calls failed\n", failures);
        return 1;
    }
    double ratio = c_ns / core_ns;
    printf("bench: %d rounds of %llu spans (start + 4 attributes + end, no-op sink), thread CPU time\n", rounds,
           (unsigned long long)n);
    printf("bench: C ABI %.1f ns/span (median %.1f, slowest %.1f), Rust core %.1f ns/span (median %.1f, slowest %.1f)\n",
           c_ns, c[rounds / 2], c[rounds - 1], core_ns, core[rounds / 2], core[rounds - 1]);
    printf("RATIO C ABI span start+4 attrs+end: C ABI %.1f ns, core %.1f ns -> %.2fx the core (target <= %.1fx: %s)\n",
           c_ns, core_ns, ratio, TARGET_RATIO, ratio <= TARGET_RATIO ? "met" : "NOT met");
    return 0;
}
