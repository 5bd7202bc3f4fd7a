/*
 * A traced task across a NATS message, in C.
 *
 * The "engine" starts a span, writes its trace context into the headers of a NATS message
 * (and into the event in the body: the dual write), and publishes it with libnats. The
 * "worker" receives the message, reads the remote parent from the headers, and does its
 * work in a child span. Both spans reach the TELEMETRY stream with one trace id.
 *
 * The engine writes its header names the way Go's net/textproto does ("Traceparent"),
 * as engines in other languages may. The worker then hands the message on with the
 * headers it came with: it copies them leaving out trace context
 * (dagnats_header_is_trace_context) and writes its own span's, so the next hop reads
 * exactly one traceparent. Copying them all would forward the stale "Traceparent"
 * beside the fresh "traceparent": two values, which every reader refuses. The W3C baggage
 * the engine sent goes the same way: read with the parent, carried by the child span and
 * written again by the worker as one lowercase "baggage" field.
 *
 * Build (after scripts/build-c; libnats from Debian's libnats-dev):
 *
 *   export PKG_CONFIG_PATH=$PWD/target/dagnats-c/lib/pkgconfig
 *   cc -std=c11 examples/c/traced_task.c $(pkg-config --cflags --libs dagnats_observe libnats) \
 *      -Wl,-rpath,$PWD/target/dagnats-c/lib -o traced_task
 *
 * Run against a nats-server with JetStream (-js):
 *
 *   NATS_URL=nats://127.0.0.1:4222 ./traced_task
 */
#define _POSIX_C_SOURCE 200809L

#include <dagnats_observe.h>
#include <nats/nats.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SUBJECT "dagnats.tasks.c-example"
#define NEXT_SUBJECT "dagnats.tasks.c-example.next"
/* W3C baggage the engine (or an OpenTelemetry service) puts on the message: carried
   through the worker unchanged to the next hop. */
#define BAGGAGE "userId=alice,serverNode=DF%2028,isProduction=false;ttl=30"

/* Reports a failed dagnats call with the library's message and leaves. */
static int failed(const char *what, dagnats_result r) {
    char msg[512] = "";
    dagnats_last_error_message(msg, sizeof msg, NULL);
    fprintf(stderr, "traced_task: %s: %s (%s)\n", what, dagnats_result_text(r), msg);
    return 1;
}

#define TRY(call)                                    \
    do {                                             \
        dagnats_result r_ = (call);                  \
        if (r_ != DAGNATS_RESULT_OK) return failed(#call, r_); \
    } while (0)

#define TRY_NATS(call)                                                              \
    do {                                                                            \
        natsStatus s_ = (call);                                                     \
        if (s_ != NATS_OK) {                                                        \
            fprintf(stderr, "traced_task: %s: %s\n", #call, natsStatus_GetText(s_)); \
            return 1;                                                               \
        }                                                                           \
    } while (0)

/* dagnats_inject_with writes each header field through this: libnats replaces a field
   of exactly the same name only. A message built from a received one's headers must
   leave out the names dagnats_header_is_trace_context() is true for (examples/c/c_worker.c
   does), or a stale "TraceParent" would travel beside the fresh "traceparent". */
static int set_nats_header(void *carrier, const char *name, const char *value) {
    return natsMsgHeader_Set((natsMsg *)carrier, name, value) == NATS_OK ? 0 : 1;
}

/* The engine's setter: header names in the canonical MIME case Go's net/textproto gives
   them ("traceparent" becomes "Traceparent"), as an engine written in Go would send. */
static int set_canonical_header(void *carrier, const char *name, const char *value) {
    char canonical[64];
    snprintf(canonical, sizeof canonical, "%s", name);
    for (size_t i = 0; canonical[i]; i++) {
        int word_start = i == 0 || canonical[i - 1] == '-';
        if (word_start && canonical[i] >= 'a' && canonical[i] <= 'z') canonical[i] = (char)(canonical[i] - 'a' + 'A');
    }
    return natsMsgHeader_Set((natsMsg *)carrier, canonical, value) == NATS_OK ? 0 : 1;
}

/* Copies a received message's header fields onto the next message, leaving out trace
   context and baggage (traceparent, tracestate and baggage in any letter case): the next
   hop gets the current span's, written by dagnats_inject_with afterwards. */
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

/* dagnats_extract_with reads the message's header fields through this: every name and
   every value, so that names match case-insensitively and repeats are seen. */
static int each_nats_header(void *carrier, dagnats_header_visitor visit, void *state) {
    natsMsg *msg = carrier;
    const char **keys = NULL;
    int nkeys = 0;
    natsStatus s = natsMsgHeader_Keys(msg, &keys, &nkeys);
    if (s == NATS_NOT_FOUND) return 0; /* no headers at all */
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

static int connect_telemetry(const char *url, const char *service, dagnats_telemetry **out) {
    dagnats_connect_options *options = NULL;
    TRY(dagnats_connect_options_new(&options));
    dagnats_result r = dagnats_connect_options_set_url(options, url);
    if (r == DAGNATS_RESULT_OK) r = dagnats_connect_options_set_service(options, service);
    if (r == DAGNATS_RESULT_OK) r = dagnats_telemetry_connect(options, out);
    dagnats_connect_options_free(options);
    return r == DAGNATS_RESULT_OK ? 0 : failed("connect", r);
}

/* The engine's side: a producer span, its context on the message, publish. */
static int engine_dispatch(dagnats_telemetry *engine, natsConnection *nc) {
    dagnats_tracer *tracer = NULL;
    dagnats_span *dispatch = NULL;
    TRY(dagnats_telemetry_tracer(engine, &tracer));
    dagnats_attribute attrs[] = {
        { .key = "run_id", .value_type = DAGNATS_VALUE_STRING, .string_value = "r-c-example" },
        { .key = "step_id", .value_type = DAGNATS_VALUE_STRING, .string_value = "build" },
    };
    TRY(dagnats_tracer_start_span(tracer, "engine.dispatch", DAGNATS_SPAN_KIND_PRODUCER, NULL, attrs, 2, &dispatch));
    const dagnats_span_context *cx = dagnats_span_context_of(dispatch);

    /* The body: the engine's event, carrying the same trace context in its fields. */
    const char *event = "{\"run_id\":\"r-c-example\",\"step_id\":\"build\"}";
    char body[1024];
    TRY(dagnats_inject_event(cx, (const uint8_t *)event, strlen(event), body, sizeof body, NULL));

    natsMsg *msg = NULL;
    TRY_NATS(natsMsg_Create(&msg, SUBJECT, NULL, body, (int)strlen(body)));
    TRY_NATS(natsMsgHeader_Set(msg, "Run-Id", "r-c-example"));
    TRY(dagnats_inject_with(cx, set_canonical_header, msg));
    TRY_NATS(natsMsgHeader_Set(msg, "Baggage", BAGGAGE)); /* Go's canonical case, too */
    TRY_NATS(natsConnection_PublishMsg(nc, msg));
    TRY_NATS(natsConnection_Flush(nc));
    natsMsg_Destroy(msg);

    char traceparent[56];
    TRY(dagnats_span_traceparent(dispatch, traceparent, sizeof traceparent, NULL));
    printf("engine: published %s with traceparent %s\n", SUBJECT, traceparent);
    TRY(dagnats_span_end(&dispatch)); /* frees the span */
    dagnats_tracer_free(tracer);
    return 0;
}

/* The worker's side: receive, extract the remote parent, work in a child span. */
static int worker_execute(dagnats_telemetry *worker, natsConnection *nc, natsSubscription *sub) {
    natsMsg *msg = NULL;
    TRY_NATS(natsSubscription_NextMsg(&msg, sub, 5000));

    dagnats_span_context *parent = NULL;
    TRY(dagnats_extract_with(each_nats_header, msg, (const uint8_t *)natsMsg_GetData(msg),
                             (size_t)natsMsg_GetDataLength(msg), &parent));
    if (!parent) fprintf(stderr, "worker: the message carried no trace context; starting a new trace\n");
    /* The baggage read with it (normalized), which the child span carries on. */
    char baggage[8193] = "";
    if (parent) TRY(dagnats_span_context_baggage(parent, baggage, sizeof baggage, NULL));
    printf("worker: received baggage %s\n", baggage);

    dagnats_tracer *tracer = NULL;
    dagnats_logger *logger = NULL;
    dagnats_counter *completed = NULL;
    dagnats_span *task = NULL;
    TRY(dagnats_telemetry_tracer(worker, &tracer));
    TRY(dagnats_telemetry_logger(worker, &logger));
    TRY(dagnats_telemetry_counter(worker, "tasks.completed", &completed));
    dagnats_attribute attrs[] = {
        { .key = "run_id", .value_type = DAGNATS_VALUE_STRING, .string_value = "r-c-example" },
        { .key = "attempt", .value_type = DAGNATS_VALUE_INT64, .int_value = 1 },
    };
    TRY(dagnats_tracer_start_span(tracer, "worker.executeTask", DAGNATS_SPAN_KIND_CONSUMER, parent, attrs, 2, &task));
    dagnats_span_context_free(parent); /* the span copied what it needs */

    TRY(dagnats_logger_log(logger, DAGNATS_LEVEL_INFO, "task started", dagnats_span_context_of(task), NULL, 0, NULL));
    TRY(dagnats_span_set_attribute_bool(task, "cached", false));
    dagnats_tag tags[] = { { "queue", "default" } };
    TRY(dagnats_counter_add(completed, 1, tags, 1));
    TRY(dagnats_span_set_status(task, DAGNATS_STATUS_OK, NULL));

    char trace_id[33], span_id[17];
    TRY(dagnats_span_trace_id(task, trace_id, sizeof trace_id, NULL));
    TRY(dagnats_span_span_id(task, span_id, sizeof span_id, NULL));
    printf("worker: executed the task in span %s of trace %s\n", span_id, trace_id);
    /* Hand the message on with the headers it came with, trace context excepted. */
    natsMsg *next = NULL;
    TRY_NATS(natsMsg_Create(&next, NEXT_SUBJECT, NULL, natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
    if (forward_headers(msg, next)) {
        fprintf(stderr, "worker: cannot copy the received headers\n");
        return 1;
    }
    TRY(dagnats_inject_with(dagnats_span_context_of(task), set_nats_header, next));
    TRY_NATS(natsConnection_PublishMsg(nc, next));
    TRY_NATS(natsConnection_Flush(nc));
    natsMsg_Destroy(next);
    TRY(dagnats_span_end(&task));

    dagnats_counter_free(completed);
    dagnats_logger_free(logger);
    dagnats_tracer_free(tracer);
    natsMsg_Destroy(msg);
    return 0;
}

/* The next hop: how many traceparent and baggage fields arrived, in any letter case,
   and whose span the parent is. */
static int next_receive(natsSubscription *sub) {
    natsMsg *msg = NULL;
    TRY_NATS(natsSubscription_NextMsg(&msg, sub, 5000));
    const char **keys = NULL;
    int nkeys = 0, traceparents = 0, baggages = 0;
    TRY_NATS(natsMsgHeader_Keys(msg, &keys, &nkeys));
    for (int i = 0; i < nkeys; i++) {
        const char **values = NULL;
        int nvalues = 0;
        if (natsMsgHeader_Values(msg, keys[i], &values, &nvalues) != NATS_OK) continue;
        if (strcasecmp(keys[i], "traceparent") == 0) traceparents += nvalues;
        if (strcasecmp(keys[i], "baggage") == 0) baggages += nvalues;
        free((void *)values);
    }
    free((void *)keys);
    const char *run_id = NULL;
    if (natsMsgHeader_Get(msg, "Run-Id", &run_id) != NATS_OK) run_id = "(none)";

    dagnats_span_context *parent = NULL;
    TRY(dagnats_extract_with(each_nats_header, msg, NULL, 0, &parent));
    char parent_id[17] = "(none)";
    if (parent) TRY(dagnats_span_context_span_id(parent, parent_id, sizeof parent_id, NULL));
    printf("next: received %d traceparent field(s) and Run-Id %s; parent span %s\n", traceparents, run_id, parent_id);
    /* Exactly the name "baggage" (libnats matches names exactly). */
    const char *baggage = NULL;
    if (natsMsgHeader_Get(msg, "baggage", &baggage) != NATS_OK) baggage = "(none)";
    printf("next: received %d baggage field(s): baggage %s\n", baggages, baggage);
    dagnats_span_context_free(parent);
    natsMsg_Destroy(msg);
    return 0;
}

int main(int argc, char **argv) {
    const char *url = argc > 1 ? argv[1] : getenv("NATS_URL");
    if (!url || !*url) url = "nats://127.0.0.1:4222";

    /* Two services in one program, to keep the example short; in real life they are two
       processes. */
    dagnats_telemetry *engine = NULL, *worker = NULL;
    if (connect_telemetry(url, "c-engine", &engine) || connect_telemetry(url, "c-worker", &worker)) return 1;

    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    TRY_NATS(natsConnection_ConnectTo(&nc, url));
    natsSubscription *next_sub = NULL;
    TRY_NATS(natsConnection_SubscribeSync(&sub, nc, SUBJECT));
    TRY_NATS(natsConnection_SubscribeSync(&next_sub, nc, NEXT_SUBJECT));

    if (engine_dispatch(engine, nc) || worker_execute(worker, nc, sub) || next_receive(next_sub)) return 1;

    /* Deliver what is pending, then release everything. */
    TRY(dagnats_telemetry_close(engine, 5000));
    TRY(dagnats_telemetry_close(worker, 5000));
    TRY(dagnats_telemetry_free(engine));
    TRY(dagnats_telemetry_free(worker));
    natsSubscription_Destroy(next_sub);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    nats_Close();
    return 0;
}
