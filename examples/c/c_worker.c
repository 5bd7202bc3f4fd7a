/*
 * The quickstart's C worker: takes the step the Node worker hands on, does its work in a
 * child span of the remote parent, and hands the next step to the Rust worker with the
 * trace context in the headers and the event fields (the dual write). The received
 * message's other headers are handed on too, without its trace context.
 *
 * Build (after scripts/build-c):
 *   cc -std=c11 examples/c/c_worker.c $(pkg-config --cflags --libs dagnats_observe libnats) \
 *      -Wl,-rpath,$PWD/target/dagnats-c/lib -o c-worker
 * Run: NATS_URL=nats://127.0.0.1:4222 ./c-worker      (prints "ready" once subscribed)
 */
#define _POSIX_C_SOURCE 200809L

#include <dagnats_observe.h>
#include <nats/nats.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INBOX "dagnats.demo.c"
#define NEXT "dagnats.demo.rust"

static int failed(const char *what, dagnats_result r) {
    char msg[512] = "";
    dagnats_last_error_message(msg, sizeof msg, NULL);
    fprintf(stderr, "c-worker: %s: %s (%s)\n", what, dagnats_result_text(r), msg);
    return 1;
}

#define TRY(call)                                              \
    do {                                                       \
        dagnats_result r_ = (call);                            \
        if (r_ != DAGNATS_RESULT_OK) return failed(#call, r_); \
    } while (0)

#define TRY_NATS(call)                                                           \
    do {                                                                         \
        natsStatus s_ = (call);                                                  \
        if (s_ != NATS_OK) {                                                     \
            fprintf(stderr, "c-worker: %s: %s\n", #call, natsStatus_GetText(s_)); \
            return 1;                                                            \
        }                                                                        \
    } while (0)

static int set_nats_header(void *carrier, const char *name, const char *value) {
    return natsMsgHeader_Set((natsMsg *)carrier, name, value) == NATS_OK ? 0 : 1;
}

/* Copies the received message's header fields onto the next one, leaving out trace
   context and baggage (traceparent, tracestate and baggage in any letter case):
   dagnats_inject_with then writes the current span's, so the next hop reads exactly one
   traceparent, never a stale "TraceParent" copied beside the fresh "traceparent". */
static int forward_headers(natsMsg *from, natsMsg *to) {
    const char **keys = NULL;
    int nkeys = 0;
    natsStatus s = natsMsgHeader_Keys(from, &keys, &nkeys);
    if (s == NATS_NOT_FOUND) return 0; /* no headers at all */
    if (s != NATS_OK) return 1;
    int rc = 0;
    for (int i = 0; i < nkeys && rc == 0; i++) {
        if (dagnats_header_is_trace_context(keys[i])) continue;
        const char **values = NULL;
        int nvalues = 0;
        if (natsMsgHeader_Values(from, keys[i], &values, &nvalues) != NATS_OK) continue;
        for (int j = 0; j < nvalues && rc == 0; j++) {
            if (natsMsgHeader_Add(to, keys[i], values[j]) != NATS_OK) rc = 1;
        }
        free((void *)values);
    }
    free((void *)keys);
    return rc;
}

static int each_nats_header(void *carrier, dagnats_header_visitor visit, void *state) {
    natsMsg *msg = carrier;
    const char **keys = NULL;
    int nkeys = 0;
    natsStatus s = natsMsgHeader_Keys(msg, &keys, &nkeys);
    if (s == NATS_NOT_FOUND) return 0;
    if (s != NATS_OK) return 1;
    for (int i = 0; i < nkeys; i++) {
        const char **values = NULL;
        int nvalues = 0;
        if (natsMsgHeader_Values(msg, keys[i], &values, &nvalues) != NATS_OK) continue;
        for (int j = 0; j < nvalues; j++) visit(state, keys[i], values[j]);
        free((void *)values);
    }
    free((void *)keys);
    return 0;
}

/* Copies the string value of "key" from a flat JSON object into out (demo-grade: the
   engine's run ids are plain tokens). */
static void json_string_field(const char *json, const char *key, char *out, size_t cap) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *start = strstr(json, pattern);
    out[0] = '\0';
    if (!start) return;
    start += strlen(pattern);
    size_t n = 0;
    while (start[n] && start[n] != '"' && n + 1 < cap) n++;
    memcpy(out, start, n);
    out[n] = '\0';
}

static int handle(dagnats_telemetry *tel, natsConnection *nc, natsMsg *msg) {
    const char *body = natsMsg_GetData(msg);
    size_t body_len = (size_t)natsMsg_GetDataLength(msg);
    dagnats_span_context *parent = NULL;
    TRY(dagnats_extract_with(each_nats_header, msg, (const uint8_t *)body, body_len, &parent));

    char run_id[128];
    char *text = strndup(body, body_len);
    json_string_field(text, "run_id", run_id, sizeof run_id);
    free(text);

    dagnats_tracer *tracer = NULL;
    dagnats_logger *logger = NULL;
    dagnats_histogram *sizes = NULL;
    dagnats_span *span = NULL;
    TRY(dagnats_telemetry_tracer(tel, &tracer));
    TRY(dagnats_telemetry_logger(tel, &logger));
    TRY(dagnats_telemetry_histogram(tel, "c.compressed_bytes", &sizes));
    dagnats_attribute attrs[] = {
        { .key = "run_id", .value_type = DAGNATS_VALUE_STRING, .string_value = run_id },
        { .key = "step_id", .value_type = DAGNATS_VALUE_STRING, .string_value = "compress" },
    };
    TRY(dagnats_tracer_start_span(tracer, "c.compress", DAGNATS_SPAN_KIND_SERVER, parent, attrs, 2, &span));
    dagnats_span_context_free(parent);

    struct timespec pause = { 0, 10 * 1000 * 1000 };
    nanosleep(&pause, NULL);
    TRY(dagnats_span_set_attribute_int64(span, "bytes.in", 4096));
    TRY(dagnats_span_set_attribute_int64(span, "bytes.out", 1311));
    TRY(dagnats_span_set_attribute_double(span, "ratio", 0.32));
    TRY(dagnats_logger_log(logger, DAGNATS_LEVEL_INFO, "payload compressed", dagnats_span_context_of(span), NULL, 0, NULL));
    dagnats_tag tags[] = { { "worker", "c" } };
    TRY(dagnats_histogram_record(sizes, 1311, tags, 1));

    /* Hand on: next step's event with the trace context in its fields, and in the headers. */
    char next_event[512];
    snprintf(next_event, sizeof next_event, "{\"run_id\":\"%s\",\"step_id\":\"publish\"}", run_id);
    char out[1024];
    const dagnats_span_context *cx = dagnats_span_context_of(span);
    TRY(dagnats_inject_event(cx, (const uint8_t *)next_event, strlen(next_event), out, sizeof out, NULL));
    natsMsg *next = NULL;
    TRY_NATS(natsMsg_Create(&next, NEXT, NULL, out, (int)strlen(out)));
    if (forward_headers(msg, next)) {
        fprintf(stderr, "c-worker: cannot copy the received headers\n");
        return 1;
    }
    TRY(dagnats_inject_with(cx, set_nats_header, next));
    TRY_NATS(natsConnection_PublishMsg(nc, next));
    TRY_NATS(natsConnection_Flush(nc));
    natsMsg_Destroy(next);

    TRY(dagnats_span_set_status(span, DAGNATS_STATUS_OK, NULL));
    TRY(dagnats_span_end(&span));
    dagnats_histogram_free(sizes);
    dagnats_logger_free(logger);
    dagnats_tracer_free(tracer);
    printf("c-worker: %s compressed, handed to %s\n", run_id, NEXT);
    return 0;
}

int main(void) {
    const char *url = getenv("NATS_URL");
    if (!url) url = "nats://127.0.0.1:4222";

    dagnats_connect_options *options = NULL;
    dagnats_telemetry *tel = NULL;
    TRY(dagnats_connect_options_new(&options));
    TRY(dagnats_connect_options_set_url(options, url));
    TRY(dagnats_connect_options_set_service(options, "c-worker"));
    dagnats_result r = dagnats_telemetry_connect(options, &tel);
    dagnats_connect_options_free(options);
    if (r != DAGNATS_RESULT_OK) return failed("connect", r);

    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    natsMsg *msg = NULL;
    TRY_NATS(natsConnection_ConnectTo(&nc, url));
    TRY_NATS(natsConnection_SubscribeSync(&sub, nc, INBOX));
    TRY_NATS(natsConnection_Flush(nc));
    printf("c-worker: ready on %s\n", INBOX);
    fflush(stdout);

    TRY_NATS(natsSubscription_NextMsg(&msg, sub, 120000));
    int rc = handle(tel, nc, msg);
    natsMsg_Destroy(msg);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);

    if (dagnats_telemetry_close(tel, 10000) != DAGNATS_RESULT_OK) rc = 1;
    dagnats_telemetry_free(tel);
    nats_Close();
    return rc;
}
