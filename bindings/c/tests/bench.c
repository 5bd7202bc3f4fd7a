/*
 * Span start + 4 attributes + end through the C ABI, beside the Rust core's own figure for
 * the same span measured in the same process and run (dagnats_bench_core_span_ns). Both
 * use a no-op sink, so the figures compare the span work and the boundary, not delivery.
 *
 *   bench [SPANS_PER_ROUND [ROUNDS]]      defaults: 200000 spans, 7 rounds
 *
 * Rounds alternate between the two. Each side's figure is its fastest round (on a shared
 * machine other work only ever adds time); the medians are printed beside. The last line
 * is "RATIO ...": the C ABI's cost over the core's, against the 1.5x target.
 */
#define _POSIX_C_SOURCE 200809L

#include "dagnats_observe.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Internal to the library (left out of the header): the core's figure, in ns per span. */
double dagnats_bench_core_span_ns(uint64_t iterations);

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
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

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    if (n == 0) n = 1;
    if (rounds < 1) rounds = 1;
    if (rounds > 64) rounds = 64;

    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = NULL;
    check(dagnats_telemetry_noop("bench", &tel));
    check(dagnats_telemetry_tracer(tel, &tracer));
    if (failures) {
        fprintf(stderr, "bench: setup failed\n");
        return 1;
    }

    /* Warm up both paths (allocator, caches, id generator). */
    c_abi_span_ns(tracer, n / 10 + 1);
    dagnats_bench_core_span_ns(n / 10 + 1);

    double c[64], core[64];
    for (int r = 0; r < rounds; r++) {
        c[r] = c_abi_span_ns(tracer, n);
        core[r] = dagnats_bench_core_span_ns(n);
    }
    qsort(c, (size_t)rounds, sizeof c[0], by_value);
    qsort(core, (size_t)rounds, sizeof core[0], by_value);
    double c_ns = c[0], core_ns = core[0];

    dagnats_tracer_free(tracer);
    check(dagnats_telemetry_free(tel));
    if (failures) {
        fprintf(stderr, "bench: %d calls failed\n", failures);
        return 1;
    }
    double ratio = c_ns / core_ns;
    printf("bench: %d rounds of %llu spans (start + 4 attributes + end, no-op sink)\n", rounds, (unsigned long long)n);
    printf("bench: C ABI %.1f ns/span (median %.1f, slowest %.1f), Rust core %.1f ns/span (median %.1f, slowest %.1f)\n",
           c_ns, c[rounds / 2], c[rounds - 1], core_ns, core[rounds / 2], core[rounds - 1]);
    printf("RATIO C ABI span start+4 attrs+end: C ABI %.1f ns, core %.1f ns -> %.2fx the core (target <= 1.5x: %s)\n", c_ns,
           core_ns, ratio, ratio <= 1.5 ? "met" : "NOT met");
    return 0;
}
