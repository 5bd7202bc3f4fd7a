/*
 * Tests of the C ABI, compiled with cc against include/dagnats_observe.h.
 *
 *   test_api VECTORS_JSON        shared trace-context vectors (and, from the same folder,
 *                                connection-options-vectors.json), the API in memory,
 *                                every error path, fork, threads
 *   test_api --e2e               against the nats-server in $NATS_URL (see
 *                                tests/e2e/driver.rs, which checks the stream afterwards)
 *   test_api --engine-format     spans and logs in the engine's dialect against the
 *                                nats-server in $NATS_URL (tests/e2e/driver.rs hands the
 *                                stored bodies to testkit/engine_strict_reader.py)
 *   test_api --auth-case         one shared authentication/TLS case against the secured
 *                                server in $DAGNATS_AUTH_URL, the case in DAGNATS_AUTH_*
 *                                (see tests/e2e/driver.rs)
 *
 * Each case prints "ok - NAME" or "FAIL - NAME: why"; the last line is
 * "N passed, N failed". Exit status 0 only when nothing failed.
 */
#define _POSIX_C_SOURCE 200809L

#include "dagnats_observe.h"
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------ */
/* A minimal harness: a case passes unless a CHECK in it failed. */

static int passed, failed;
static int case_failed;
static const char *case_name;
static char case_why[512];

static void begin(const char *name) {
    case_name = name;
    case_failed = 0;
    case_why[0] = '\0';
}

static void end_case(void) {
    if (case_failed) {
        failed++;
        printf("FAIL - %s: %s\n", case_name, case_why);
    } else {
        passed++;
        printf("ok - %s\n", case_name);
    }
    fflush(stdout);
}

static void check_failed(int line, const char *fmt, ...) {
    if (!case_failed) {
        int n = snprintf(case_why, sizeof case_why, "line %d: ", line);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(case_why + n, sizeof case_why - (size_t)n, fmt, ap);
        va_end(ap);
    }
    case_failed = 1;
}

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) check_failed(__LINE__, __VA_ARGS__);  \
    } while (0)

static const char *last_error(void) {
    static char buf[1024];
    size_t needed = 0;
    if (dagnats_last_error_message(buf, sizeof buf, &needed) != DAGNATS_RESULT_OK) {
        return "(last error did not fit)";
    }
    return buf;
}

/* CHECK that a call returned `want`, naming the call and the last error otherwise. */
#define EXPECT(want, call)                                                                  \
    do {                                                                                    \
        dagnats_result got_ = (call);                                                       \
        if (got_ != (dagnats_result)(want))                                                 \
            check_failed(__LINE__, "%s returned %u (%s), wanted %u; last error: %s", #call, \
                         (unsigned)got_, dagnats_result_text(got_), (unsigned)(want),       \
                         last_error());                                                     \
    } while (0)

#define OK(call) EXPECT(DAGNATS_RESULT_OK, call)

/* CHECK that a call failed with `want` and left a last-error message containing `part`. */
#define EXPECT_ERR(want, part, call)                                                  \
    do {                                                                              \
        EXPECT(want, call);                                                           \
        CHECK(strstr(last_error(), (part)) != NULL, "%s: last error %s lacks \"%s\"", \
              #call, last_error(), (part));                                           \
    } while (0)

#define STREQ(a, b) CHECK(strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))

/* ------------------------------------------------------------------------------------ */
/* Helpers */

/* A non-NULL value for output arguments, to see that a call wrote NULL. */
static char sentinel_storage;
#define SENTINEL ((dagnats_span_context *)&sentinel_storage)

static void free_ctx(dagnats_span_context *ctx) {
    if (ctx != SENTINEL) dagnats_span_context_free(ctx);
}

typedef struct {
    char trace_id[33];
    char span_id[17];
    char traceparent[56];
    char tracestate[1024];
    char baggage[8193];
    unsigned flags;
    int remote;
} ctx_text;

static void read_ctx(const dagnats_span_context *ctx, ctx_text *t) {
    memset(t, 0, sizeof *t);
    OK(dagnats_span_context_trace_id(ctx, t->trace_id, sizeof t->trace_id, NULL));
    OK(dagnats_span_context_span_id(ctx, t->span_id, sizeof t->span_id, NULL));
    OK(dagnats_span_context_traceparent(ctx, t->traceparent, sizeof t->traceparent, NULL));
    OK(dagnats_span_context_tracestate(ctx, t->tracestate, sizeof t->tracestate, NULL));
    OK(dagnats_span_context_baggage(ctx, t->baggage, sizeof t->baggage, NULL));
    t->flags = dagnats_span_context_flags(ctx);
    t->remote = dagnats_span_context_is_remote(ctx);
}

/* The [name, value] pairs of a vector case as a dagnats_header array (caller frees). */
static dagnats_header *case_headers(const json_value *c, size_t *n) {
    const json_value *hs = json_get(c, "headers");
    *n = hs ? hs->len : 0;
    dagnats_header *out = calloc(*n ? *n : 1, sizeof *out);
    for (size_t i = 0; i < *n; i++) {
        out[i].name = hs->items[i].items[0].string;
        out[i].value = hs->items[i].items[1].string;
    }
    return out;
}

/* A carrier walked by a foreach callback: the same array. */
typedef struct {
    const dagnats_header *headers;
    size_t len;
    int fail_with;
} array_carrier;

static int foreach_array(void *carrier, dagnats_header_visitor visit, void *state) {
    array_carrier *a = carrier;
    for (size_t i = 0; i < a->len; i++) visit(state, a->headers[i].name, a->headers[i].value);
    return a->fail_with;
}

/* A carrier written by a setter callback: up to 4 fields. */
typedef struct {
    char names[4][32];
    char values[4][1024];
    size_t len;
    int fail_with;
} set_carrier;

static int set_field(void *carrier, const char *name, const char *value) {
    set_carrier *c = carrier;
    if (c->fail_with) return c->fail_with;
    if (c->len == 4) return 1;
    snprintf(c->names[c->len], sizeof c->names[0], "%s", name);
    snprintf(c->values[c->len], sizeof c->values[0], "%s", value);
    c->len++;
    return 0;
}

/* Writes the context into headers three ways (array, callback, event) and checks that
   each reads back as the same context. */
static void check_round_trip(const dagnats_span_context *ctx) {
    ctx_text want, got;
    read_ctx(ctx, &want);

    dagnats_header hs[2];
    char buf[2048];
    size_t written = 0, needed = 0;
    OK(dagnats_inject_headers(ctx, hs, 2, &written, buf, sizeof buf, &needed));
    dagnats_span_context *back = NULL;
    OK(dagnats_extract_headers(hs, written, NULL, 0, &back));
    CHECK(back != NULL, "inject_headers output did not extract");
    if (back) {
        read_ctx(back, &got);
        CHECK(memcmp(&want, &got, offsetof(ctx_text, remote)) == 0,
              "array round trip: %s %s != %s %s", want.traceparent, want.tracestate,
              got.traceparent, got.tracestate);
        dagnats_span_context_free(back);
    }

    set_carrier sc = {0};
    OK(dagnats_inject_with(ctx, set_field, &sc));
    dagnats_header hs2[4];
    for (size_t i = 0; i < sc.len; i++) {
        hs2[i].name = sc.names[i];
        hs2[i].value = sc.values[i];
    }
    back = NULL;
    OK(dagnats_extract_headers(hs2, sc.len, NULL, 0, &back));
    CHECK(back != NULL, "inject_with output did not extract");
    if (back) {
        read_ctx(back, &got);
        STREQ(got.traceparent, want.traceparent);
        STREQ(got.tracestate, want.tracestate);
        dagnats_span_context_free(back);
    }

    char event[2048];
    OK(dagnats_inject_event(ctx, (const uint8_t *)"{\"id\":\"e1\"}", 11, event, sizeof event, NULL));
    back = NULL;
    OK(dagnats_extract_headers(NULL, 0, (const uint8_t *)event, strlen(event), &back));
    CHECK(back != NULL, "inject_event output did not extract: %s", event);
    if (back) {
        read_ctx(back, &got);
        STREQ(got.traceparent, want.traceparent);
        STREQ(got.tracestate, want.tracestate);
        dagnats_span_context_free(back);
    }
}

/* Checks an extraction result against a vector case's expectation. */
static void check_expected(const json_value *c, const dagnats_span_context *ctx) {
    if (ctx == SENTINEL) {
        CHECK(0, "the output was not written");
        return;
    }
    const json_value *valid = json_get(c, "valid");
    CHECK(valid && valid->type == JSON_BOOL, "case has no valid flag");
    if (!valid) return;
    if (!valid->boolean) {
        CHECK(ctx == NULL, "expected no context");
        return;
    }
    CHECK(ctx != NULL, "expected a context");
    if (!ctx) return;
    ctx_text t;
    read_ctx(ctx, &t);
    STREQ(t.trace_id, json_get_string(c, "trace_id"));
    STREQ(t.span_id, json_get_string(c, "span_id"));
    const json_value *flags = json_get(c, "flags");
    if (flags) CHECK(t.flags == (unsigned)flags->number, "flags %u != %g", t.flags, flags->number);
    const char *ts = json_get_string(c, "tracestate");
    STREQ(t.tracestate, ts ? ts : "");
    CHECK(t.remote, "extracted context is not remote");
}

/* ------------------------------------------------------------------------------------ */
/* Shared vectors */

static void vectors_traceparent(const json_value *group) {
    char name[256];
    for (size_t i = 0; i < group->len; i++) {
        const json_value *c = &group->items[i];
        snprintf(name, sizeof name, "vector traceparent: %s", json_get_string(c, "name"));
        begin(name);
        size_t n;
        dagnats_header *hs = case_headers(c, &n);

        dagnats_span_context *ctx = SENTINEL;
        OK(dagnats_extract_headers(hs, n, NULL, 0, &ctx));
        check_expected(c, ctx);

        /* The same headers through the callback. */
        array_carrier carrier = { hs, n, 0 };
        dagnats_span_context *via_cb = SENTINEL;
        OK(dagnats_extract_with(foreach_array, &carrier, NULL, 0, &via_cb));
        check_expected(c, via_cb);

        if (ctx && ctx != SENTINEL) check_round_trip(ctx);
        free_ctx(ctx);
        free_ctx(via_cb);
        free(hs);
        end_case();
    }
}

static void vectors_event(const json_value *group) {
    char name[256];
    for (size_t i = 0; i < group->len; i++) {
        const json_value *c = &group->items[i];
        snprintf(name, sizeof name, "vector event: %s", json_get_string(c, "name"));
        begin(name);
        size_t n;
        dagnats_header *hs = case_headers(c, &n);
        const json_value *ev = json_get(c, "event");
        CHECK(ev != NULL, "case has no event");
        dagnats_span_context *ctx = SENTINEL;
        OK(dagnats_extract_headers(hs, n, (const uint8_t *)ev->raw, ev->raw_len, &ctx));
        check_expected(c, ctx);

        array_carrier carrier = { hs, n, 0 };
        dagnats_span_context *via_cb = SENTINEL;
        OK(dagnats_extract_with(foreach_array, &carrier, (const uint8_t *)ev->raw, ev->raw_len, &via_cb));
        check_expected(c, via_cb);

        if (ctx && ctx != SENTINEL) check_round_trip(ctx);
        free_ctx(ctx);
        free_ctx(via_cb);
        free(hs);
        end_case();
    }
}

static void vectors_tracestate(const json_value *group) {
    static const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    char name[256];
    for (size_t i = 0; i < group->len; i++) {
        const json_value *c = &group->items[i];
        snprintf(name, sizeof name, "vector tracestate: %s", json_get_string(c, "name"));
        begin(name);
        const json_value *values = json_get(c, "values");
        const json_value *valid = json_get(c, "valid");
        const char *normalized = json_get_string(c, "normalized");
        size_t n = values ? values->len : 0;

        /* As tracestate header fields beside a valid traceparent. */
        dagnats_header *hs = calloc(n + 1, sizeof *hs);
        hs[0].name = "traceparent";
        hs[0].value = tp;
        size_t joined_len = 1;
        for (size_t k = 0; k < n; k++) {
            hs[k + 1].name = "tracestate";
            hs[k + 1].value = values->items[k].string;
            joined_len += strlen(values->items[k].string) + 1;
        }
        dagnats_span_context *ctx = NULL;
        OK(dagnats_extract_headers(hs, n + 1, NULL, 0, &ctx));
        CHECK(ctx != NULL, "the traceparent must survive any tracestate");
        if (ctx) {
            ctx_text t;
            read_ctx(ctx, &t);
            STREQ(t.tracestate, valid->boolean ? normalized : "");
        }
        dagnats_span_context_free(ctx);

        /* As one joined list given to dagnats_span_context_from_ids. */
        char *joined = calloc(joined_len, 1);
        for (size_t k = 0; k < n; k++) {
            if (k) strcat(joined, ",");
            strcat(joined, values->items[k].string);
        }
        dagnats_span_context *built = NULL;
        if (valid->boolean) {
            OK(dagnats_span_context_from_ids("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1, joined, &built));
            if (built) {
                ctx_text t;
                read_ctx(built, &t);
                STREQ(t.tracestate, normalized);
            }
        } else {
            EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "tracestate",
                       dagnats_span_context_from_ids("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1, joined, &built));
            CHECK(built == NULL, "no output on failure");
        }
        dagnats_span_context_free(built);
        free(joined);
        free(hs);
        end_case();
    }
}

static void vectors_format(const json_value *group) {
    char name[256];
    for (size_t i = 0; i < group->len; i++) {
        const json_value *c = &group->items[i];
        const char *want = json_get_string(c, "traceparent");
        snprintf(name, sizeof name, "vector format: %s", want);
        begin(name);
        dagnats_span_context *ctx = NULL;
        OK(dagnats_span_context_from_ids(json_get_string(c, "trace_id"), json_get_string(c, "span_id"),
                                         (uint8_t)json_get(c, "flags")->number, NULL, &ctx));
        if (ctx) {
            ctx_text t;
            read_ctx(ctx, &t);
            STREQ(t.traceparent, want);
            /* And parsing the expected value gives the same parts back. */
            dagnats_header h = { "traceparent", want };
            dagnats_span_context *parsed = NULL;
            OK(dagnats_extract_headers(&h, 1, NULL, 0, &parsed));
            if (parsed) {
                ctx_text p;
                read_ctx(parsed, &p);
                STREQ(p.trace_id, json_get_string(c, "trace_id"));
                STREQ(p.span_id, json_get_string(c, "span_id"));
                CHECK(p.flags == t.flags, "flags %u != %u", p.flags, t.flags);
            }
            dagnats_span_context_free(parsed);
        }
        dagnats_span_context_free(ctx);
        end_case();
    }
}

static void run_vectors(const char *path) {
    begin("vectors file reads");
    char *text = json_read_file(path);
    CHECK(text != NULL, "cannot read %s", path);
    json_value root = {0};
    char err[128] = "";
    if (text) CHECK(json_parse(text, &root, err, sizeof err) == 0, "%s: %s", path, err);
    const char *groups[] = { "traceparent", "event", "tracestate", "format" };
    for (size_t g = 0; g < 4; g++) {
        const json_value *group = json_get(&root, groups[g]);
        CHECK(group && group->type == JSON_ARRAY && group->len > 0, "group %s missing", groups[g]);
    }
    end_case();
    if (!case_failed) {
        vectors_traceparent(json_get(&root, "traceparent"));
        vectors_event(json_get(&root, "event"));
        vectors_tracestate(json_get(&root, "tracestate"));
        vectors_format(json_get(&root, "format"));
    }
    json_free(&root);
    free(text);
}

/* ------------------------------------------------------------------------------------ */
/* Shared connection-option vectors: each case through the setters (or the NATS_*
 * variables read by dagnats_connect_options_new) and dagnats_connect_options_validate. */

static const char *const NATS_VARS[] = { "NATS_URL", "NATS_CREDS", "NATS_USER", "NATS_PASSWORD", "NATS_TOKEN",
                                         "NATS_NKEY", "NATS_TLS_REQUIRED", "NATS_CA", "NATS_CERT", "NATS_KEY" };

static void clear_nats_env(void) {
    for (size_t i = 0; i < sizeof NATS_VARS / sizeof NATS_VARS[0]; i++) unsetenv(NATS_VARS[i]);
}

/* Why a case's options cannot be given through the C setters (NULL when they can):
 * user and password, certificate and key are set in pairs, and the timeout is a u32. */
static const char *not_expressible(const json_value *o) {
    if ((json_get(o, "user") != NULL) != (json_get(o, "password") != NULL)) return "user and password are one setter";
    if ((json_get(o, "tls_cert_file") != NULL) != (json_get(o, "tls_key_file") != NULL))
        return "certificate and key are one setter";
    const json_value *t = json_get(o, "connect_timeout_ms");
    if (t && (t->number < 0 || t->number != floor(t->number))) return "the timeout is a whole number of ms";
    return NULL;
}

static void apply_case_options(dagnats_connect_options *opts, const json_value *o) {
    const char *v;
    if ((v = json_get_string(o, "url"))) OK(dagnats_connect_options_set_url(opts, v));
    if ((v = json_get_string(o, "user"))) OK(dagnats_connect_options_set_user_password(opts, v, json_get_string(o, "password")));
    if ((v = json_get_string(o, "token"))) OK(dagnats_connect_options_set_token(opts, v));
    if ((v = json_get_string(o, "nkey"))) OK(dagnats_connect_options_set_nkey_seed(opts, v));
    if ((v = json_get_string(o, "credentials_file"))) OK(dagnats_connect_options_set_credentials_file(opts, v));
    const json_value *required = json_get(o, "tls_required");
    if (required) OK(dagnats_connect_options_set_tls_required(opts, required->boolean));
    if ((v = json_get_string(o, "tls_ca_file"))) OK(dagnats_connect_options_set_tls_ca_file(opts, v));
    if ((v = json_get_string(o, "tls_cert_file")))
        OK(dagnats_connect_options_set_tls_client_cert(opts, v, json_get_string(o, "tls_key_file")));
    if ((v = json_get_string(o, "name"))) OK(dagnats_connect_options_set_connection_name(opts, v));
    const json_value *t = json_get(o, "connect_timeout_ms");
    if (t) OK(dagnats_connect_options_set_connect_timeout_ms(opts, (uint32_t)t->number));
}

static void check_case_outcome(const json_value *c, const dagnats_connect_options *opts) {
    const json_value *valid = json_get(c, "valid");
    if (valid && valid->boolean) {
        OK(dagnats_connect_options_validate(opts));
        return;
    }
    const char *kind = json_get_string(c, "error");
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s: ", kind ? kind : "?");
    EXPECT(DAGNATS_RESULT_INVALID_CONFIG, dagnats_connect_options_validate(opts));
    CHECK(strncmp(last_error(), prefix, strlen(prefix)) == 0, "last error %s does not start with %s", last_error(), prefix);
    CHECK(strstr(last_error(), "hunter2") == NULL, "a secret leaked: %s", last_error());
}

/* ------------------------------------------------------------------------------------ */
/* Shared carrier vectors (carrier-vectors.json, beside the trace-context vectors): the
 * core's one rule for reading headers and for the dual write. C's headers are strings, so
 * extract cases holding a header value of another type are skipped (their event fields,
 * raw JSON, are expressible and run). */

/* The case's header pairs as an array, a list value giving one field per item; NULL when
 * a value is not a string (C cannot hold it). */
static dagnats_header *carrier_case_headers(const json_value *c, size_t *n) {
    const json_value *hs = json_get(c, "headers");
    size_t count = 0;
    for (size_t i = 0; hs && i < hs->len; i++) {
        const json_value *v = &hs->items[i].items[1];
        if (v->type == JSON_STRING) count++;
        else if (v->type == JSON_ARRAY) {
            for (size_t j = 0; j < v->len; j++) {
                if (v->items[j].type != JSON_STRING) return NULL;
            }
            count += v->len;
        } else return NULL;
    }
    dagnats_header *out = calloc(count ? count : 1, sizeof *out);
    *n = 0;
    for (size_t i = 0; hs && i < hs->len; i++) {
        const json_value *v = &hs->items[i].items[1];
        const char *name = hs->items[i].items[0].string;
        if (v->type == JSON_STRING) {
            out[(*n)++] = (dagnats_header){ name, v->string };
        } else {
            for (size_t j = 0; j < v->len; j++) out[(*n)++] = (dagnats_header){ name, v->items[j].string };
        }
    }
    return out;
}

static void carrier_extract_cases(const json_value *group) {
    char name[256];
    size_t skipped = 0;
    for (size_t i = 0; i < group->len; i++) {
        const json_value *c = &group->items[i];
        size_t n = 0;
        dagnats_header *hs = carrier_case_headers(c, &n);
        if (!hs) {
            skipped++;
            continue;
        }
        snprintf(name, sizeof name, "carrier extract: %s", json_get_string(c, "name"));
        begin(name);
        const json_value *ev = json_get(c, "event");
        dagnats_span_context *ctx = SENTINEL;
        OK(dagnats_extract_headers(hs, n, ev ? (const uint8_t *)ev->raw : NULL, ev ? ev->raw_len : 0, &ctx));
        const json_value *valid = json_get(c, "valid");
        if (valid && valid->boolean) {
            CHECK(ctx != NULL && ctx != SENTINEL, "no parent");
            if (ctx && ctx != SENTINEL) {
                ctx_text t;
                read_ctx(ctx, &t);
                STREQ(t.span_id, json_get_string(c, "span_id"));
                STREQ(t.tracestate, json_get_string(c, "tracestate"));
                const char *want_baggage = json_get_string(c, "baggage");
                STREQ(t.baggage, want_baggage ? want_baggage : "");
                CHECK(t.remote, "not remote");
            }
        } else {
            CHECK(ctx == NULL, "a parent from a malformed carrier");
        }
        free_ctx(ctx);
        free(hs);
        end_case();
    }
    begin("carrier extract: the cases C can hold ran");
    CHECK(skipped < group->len, "every extract case skipped");
    end_case();
}

static void carrier_inject_cases(const json_value *group) {
    char name[256];
    for (size_t i = 0; i < group->len; i++) {
        const json_value *c = &group->items[i];
        snprintf(name, sizeof name, "carrier inject: %s", json_get_string(c, "name"));
        begin(name);
        const char *baggage = json_get_string(c, "baggage");
        dagnats_header source[3] = { { "traceparent", json_get_string(c, "traceparent") } };
        size_t sources = 1;
        if (json_get_string(c, "tracestate")[0]) source[sources++] = (dagnats_header){ "tracestate", json_get_string(c, "tracestate") };
        if (baggage && baggage[0]) source[sources++] = (dagnats_header){ "baggage", baggage };
        dagnats_span_context *ctx = SENTINEL;
        OK(dagnats_extract_headers(source, sources, NULL, 0, &ctx));
        CHECK(ctx != NULL && ctx != SENTINEL, "no context from the case");
        if (ctx == NULL || ctx == SENTINEL) {
            end_case();
            continue;
        }
        /* Hand the headers on as the README says: leave out the trace-context names,
         * then append what dagnats_inject_headers writes. */
        size_t n = 0;
        dagnats_header *in = carrier_case_headers(c, &n);
        dagnats_header out[16];
        size_t kept = 0, written = 0;
        for (size_t h = 0; in && h < n && kept < 14; h++) {
            if (!dagnats_header_is_trace_context(in[h].name)) out[kept++] = in[h];
        }
        char buf[9216];
        OK(dagnats_inject_headers(ctx, out + kept, 3, &written, buf, sizeof buf, NULL));
        const json_value *after = json_get(c, "headers_after");
        CHECK(after && after->len == kept + written, "%zu headers, want %zu", kept + written, after ? after->len : 0);
        for (size_t h = 0; after && h < after->len && h < kept + written; h++) {
            STREQ(out[h].name, after->items[h].items[0].string);
            STREQ(out[h].value, after->items[h].items[1].string);
        }
        /* The event: the fields of event_after, and no others. */
        const json_value *ev = json_get(c, "event");
        char event_out[2048];
        OK(dagnats_inject_event(ctx, (const uint8_t *)ev->raw, ev->raw_len, event_out, sizeof event_out, NULL));
        json_value got = { 0 };
        char err[128] = "";
        CHECK(json_parse(event_out, &got, err, sizeof err) == 0, "event out: %s", err);
        const json_value *want = json_get(c, "event_after");
        CHECK(got.type == JSON_OBJECT && got.len == want->len, "event has %zu fields, want %zu: %s", got.len, want->len,
              event_out);
        for (size_t f = 0; f < want->len; f++) {
            const char *value = json_get_string(&got, want->keys[f]);
            CHECK(value != NULL && strcmp(value, want->items[f].string) == 0, "event field %s: %s", want->keys[f],
                  event_out);
        }
        json_free(&got);
        free(in);
        free_ctx(ctx);
        end_case();
    }
}

static void run_carrier_vectors(const char *trace_vectors_path) {
    char path[4096];
    const char *slash = strrchr(trace_vectors_path, '/');
    int dir_len = slash ? (int)(slash - trace_vectors_path) : 1;
    snprintf(path, sizeof path, "%.*s/carrier-vectors.json", dir_len, slash ? trace_vectors_path : ".");
    begin("carrier vectors file reads");
    char *text = json_read_file(path);
    CHECK(text != NULL, "cannot read %s", path);
    json_value root = { 0 };
    char err[128] = "";
    if (text) CHECK(json_parse(text, &root, err, sizeof err) == 0, "%s: %s", path, err);
    const json_value *extract = text ? json_get(&root, "extract") : NULL;
    const json_value *inject = text ? json_get(&root, "inject") : NULL;
    CHECK(extract && extract->len > 0 && inject && inject->len > 0, "no cases in %s", path);
    end_case();
    if (!case_failed) {
        carrier_extract_cases(extract);
        carrier_inject_cases(inject);
    }
    json_free(&root);
    free(text);
}

static void run_connection_vectors(const char *trace_vectors_path) {
    char path[4096];
    const char *slash = strrchr(trace_vectors_path, '/');
    int dir_len = slash ? (int)(slash - trace_vectors_path) : 1;
    snprintf(path, sizeof path, "%.*s/connection-options-vectors.json", dir_len, slash ? trace_vectors_path : ".");
    begin("connection vectors file reads");
    char *text = json_read_file(path);
    CHECK(text != NULL, "cannot read %s", path);
    json_value root = {0};
    char err[128] = "";
    if (text) CHECK(json_parse(text, &root, err, sizeof err) == 0, "%s: %s", path, err);
    const json_value *cases = text ? json_get(&root, "cases") : NULL;
    CHECK(cases && cases->type == JSON_ARRAY && cases->len >= 30, "no cases in %s", path);
    end_case();
    size_t skipped = 0, run = 0;
    char *saved[sizeof NATS_VARS / sizeof NATS_VARS[0]];
    for (size_t i = 0; i < sizeof NATS_VARS / sizeof NATS_VARS[0]; i++) {
        const char *v = getenv(NATS_VARS[i]);
        saved[i] = v ? strdup(v) : NULL;
    }
    for (size_t i = 0; cases && i < cases->len; i++) {
        const json_value *c = &cases->items[i];
        char name[300];
        const json_value *o = json_get(c, "options");
        if (o && not_expressible(o)) {
            skipped++;
        } else if (o) {
            snprintf(name, sizeof name, "connection vector (options): %s", json_get_string(c, "name"));
            begin(name);
            clear_nats_env();
            dagnats_connect_options *opts = NULL;
            OK(dagnats_connect_options_new(&opts));
            apply_case_options(opts, o);
            check_case_outcome(c, opts);
            dagnats_connect_options_free(opts);
            end_case();
            run++;
        }
        const json_value *vars = json_get(c, "env");
        if (vars) {
            snprintf(name, sizeof name, "connection vector (env): %s", json_get_string(c, "name"));
            begin(name);
            clear_nats_env();
            for (size_t k = 0; k < vars->len; k++) setenv(vars->keys[k], vars->items[k].string, 1);
            dagnats_connect_options *opts = NULL;
            OK(dagnats_connect_options_new(&opts));
            check_case_outcome(c, opts);
            dagnats_connect_options_free(opts);
            end_case();
            run++;
        }
    }
    clear_nats_env();
    for (size_t i = 0; i < sizeof NATS_VARS / sizeof NATS_VARS[0]; i++) {
        if (saved[i]) setenv(NATS_VARS[i], saved[i], 1);
        free(saved[i]);
    }
    begin("connection vectors: most cases run in C (the rest need setters C does not split)");
    CHECK(run >= 45 && skipped <= 8, "ran %zu, skipped %zu", run, skipped);
    end_case();
    json_free(&root);
    free(text);
}

/* The credential setters record; two kinds are an error at validate and connect, none wins. */
static void test_connect_options_rules(void) {
    begin("connect options: two credentials are INVALID_CONFIG naming both setters, before any server");
    clear_nats_env();
    dagnats_connect_options *opts = NULL;
    dagnats_telemetry *t = NULL;
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_connect_options_set_url(opts, "nats://127.0.0.1:1"));
    OK(dagnats_connect_options_set_token(opts, "tok-secret"));
    OK(dagnats_connect_options_validate(opts));
    OK(dagnats_connect_options_set_nkey_seed(opts, "SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU"));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_CONFIG, "conflicting_credentials: token (NATS_TOKEN) and nkey_seed (NATS_NKEY)",
               dagnats_connect_options_validate(opts));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_CONFIG, "conflicting_credentials", dagnats_telemetry_connect(opts, &t));
    CHECK(t == NULL, "no telemetry on failure");
    CHECK(strstr(last_error(), "tok-secret") == NULL && strstr(last_error(), "SUAM") == NULL, "a secret leaked: %s", last_error());
    dagnats_connect_options_free(opts);
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_connect_options_set_connect_timeout_ms(opts, 0));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_CONFIG, "invalid_timeout: connect_timeout_ms", dagnats_connect_options_validate(opts));
    OK(dagnats_connect_options_set_connect_timeout_ms(opts, 1));
    OK(dagnats_connect_options_validate(opts));
    dagnats_connect_options_free(opts);
    setenv("NATS_TOKEN", "tok-from-env", 1);
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_connect_options_set_user_password(opts, "u", "p"));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_CONFIG, "user (NATS_USER) and token (NATS_TOKEN)", dagnats_connect_options_validate(opts));
    dagnats_connect_options_free(opts);
    clear_nats_env();
    EXPECT(DAGNATS_RESULT_NULL_ARGUMENT, dagnats_connect_options_validate(NULL));
    end_case();
}

/* ------------------------------------------------------------------------------------ */
/* The API in memory */

/* Record `index` of `type` parsed from the in-memory telemetry (caller json_free's). */
static int memory_record(const dagnats_telemetry *tel, dagnats_record_type type, size_t index, json_value *out) {
    size_t needed = 0;
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_telemetry_memory_json(tel, type, index, NULL, 0, &needed));
    char *buf = malloc(needed);
    OK(dagnats_telemetry_memory_json(tel, type, index, buf, needed, NULL));
    char err[128] = "";
    int rc = json_parse(buf, out, err, sizeof err);
    CHECK(rc == 0, "record is not JSON (%s): %s", err, buf);
    if (rc == 0) {
        out->owned_source = buf; /* the values' raw text points into it */
    } else {
        free(buf);
    }
    return rc;
}

static size_t memory_count(const dagnats_telemetry *tel, dagnats_record_type type) {
    size_t n = (size_t)-1;
    OK(dagnats_telemetry_memory_count(tel, type, &n));
    return n;
}

/* The source text of a member, for checks of how a number was written. */
static int raw_is(const json_value *v, const char *text) {
    return v && v->raw_len == strlen(text) && strncmp(v->raw, text, v->raw_len) == 0;
}

static void test_span_lifecycle(void) {
    begin("span: start with attributes, set all kinds, event, error, status, end");
    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = NULL;
    OK(dagnats_telemetry_in_memory("c-worker", &tel));
    OK(dagnats_telemetry_tracer(tel, &tracer));

    dagnats_attribute initial[] = {
        { .key = "run_id", .value_type = DAGNATS_VALUE_STRING, .string_value = "r-42" },
        { .key = "attempt", .value_type = DAGNATS_VALUE_INT64, .int_value = 1 },
    };
    dagnats_span *span = NULL;
    OK(dagnats_tracer_start_span(tracer, "worker.executeTask", DAGNATS_SPAN_KIND_SERVER, NULL, initial, 2, &span));
    CHECK(span != NULL, "no span");
    OK(dagnats_span_set_attribute_string(span, "step_id", "build"));
    OK(dagnats_span_set_attribute_int64(span, "attempt", 2)); /* replaces 1 */
    OK(dagnats_span_set_attribute_int64(span, "big", INT64_MIN));
    OK(dagnats_span_set_attribute_double(span, "ratio", 0.5));
    OK(dagnats_span_set_attribute_double(span, "nan", NAN));
    OK(dagnats_span_set_attribute_bool(span, "cached", false));
    OK(dagnats_span_set_attribute_string(span, "greeting", "h\xc3\xa9llo \"q\""));
    dagnats_attribute more[] = { { .key = "queue", .value_type = DAGNATS_VALUE_STRING, .string_value = "default" } };
    OK(dagnats_span_set_attributes(span, more, 1));
    dagnats_attribute ev[] = { { .key = "key", .value_type = DAGNATS_VALUE_STRING, .string_value = "k1" },
                               { .key = "bytes", .value_type = DAGNATS_VALUE_INT64, .int_value = 512 } };
    OK(dagnats_span_add_event(span, "cache.miss", ev, 2));
    OK(dagnats_span_add_event(span, "no.attrs", NULL, 0));
    OK(dagnats_span_record_error(span, "disk full", "IOError"));
    OK(dagnats_span_set_status(span, DAGNATS_STATUS_ERROR, "step failed"));
    OK(dagnats_span_set_status(span, DAGNATS_STATUS_UNSET, "ignored"));

    char trace_id[33], span_id[17], traceparent[56];
    OK(dagnats_span_trace_id(span, trace_id, sizeof trace_id, NULL));
    OK(dagnats_span_span_id(span, span_id, sizeof span_id, NULL));
    OK(dagnats_span_traceparent(span, traceparent, sizeof traceparent, NULL));
    char want_tp[80];
    snprintf(want_tp, sizeof want_tp, "00-%s-%s-01", trace_id, span_id);
    STREQ(traceparent, want_tp);
    CHECK(memory_count(tel, DAGNATS_RECORD_SPAN) == 0, "span delivered before its end");

    OK(dagnats_span_end(&span));
    CHECK(span == NULL, "end did not NULL the caller's pointer");
    CHECK(memory_count(tel, DAGNATS_RECORD_SPAN) == 1, "one span after end");

    json_value rec;
    if (memory_record(tel, DAGNATS_RECORD_SPAN, 0, &rec) == 0) {
        STREQ(json_get_string(&rec, "name"), "worker.executeTask");
        STREQ(json_get_string(&rec, "service"), "c-worker");
        STREQ(json_get_string(&rec, "kind"), "server");
        STREQ(json_get_string(&rec, "trace_id"), trace_id);
        STREQ(json_get_string(&rec, "span_id"), span_id);
        CHECK(json_get(&rec, "parent_id") == NULL, "a root has no parent_id");
        STREQ(json_get_string(&rec, "status"), "error");
        STREQ(json_get_string(&rec, "status_message"), "step failed"); /* the later status wins */
        STREQ(json_get_string(&rec, "error"), "disk full");
        const json_value *a = json_get(&rec, "attributes");
        STREQ(json_get_string(a, "run_id"), "r-42");
        STREQ(json_get_string(a, "step_id"), "build");
        STREQ(json_get_string(a, "queue"), "default");
        STREQ(json_get_string(a, "greeting"), "h\xc3\xa9llo \"q\"");
        CHECK(raw_is(json_get(a, "attempt"), "2"), "attempt must be the integer 2");
        CHECK(raw_is(json_get(a, "big"), "-9223372036854775808"), "int64 min kept");
        CHECK(raw_is(json_get(a, "ratio"), "0.5"), "ratio");
        STREQ(json_get_string(a, "nan"), "NaN");
        CHECK(raw_is(json_get(a, "cached"), "false"), "cached");
        const json_value *events = json_get(&rec, "events");
        CHECK(events && events->len == 3, "three events");
        if (events && events->len == 3) {
            STREQ(json_get_string(&events->items[0], "name"), "cache.miss");
            CHECK(raw_is(json_get(json_get(&events->items[0], "attributes"), "bytes"), "512"), "event attr");
            STREQ(json_get_string(&events->items[1], "name"), "no.attrs");
            STREQ(json_get_string(&events->items[2], "name"), "exception");
            const json_value *ea = json_get(&events->items[2], "attributes");
            STREQ(json_get_string(ea, "exception.type"), "IOError");
            STREQ(json_get_string(ea, "exception.message"), "disk full");
        }
        json_free(&rec);
    }

    /* OK is final; the description is kept. */
    OK(dagnats_tracer_start_span(tracer, "ok.span", DAGNATS_SPAN_KIND_INTERNAL, NULL, NULL, 0, &span));
    OK(dagnats_span_set_status(span, DAGNATS_STATUS_OK, "all good"));
    OK(dagnats_span_set_status(span, DAGNATS_STATUS_ERROR, "too late"));
    OK(dagnats_span_end(&span));
    if (memory_record(tel, DAGNATS_RECORD_SPAN, 1, &rec) == 0) {
        STREQ(json_get_string(&rec, "status"), "ok");
        STREQ(json_get_string(&rec, "kind"), "internal");
        CHECK(json_get(&rec, "attributes") == NULL, "no attributes written when empty");
        json_free(&rec);
    }
    OK(dagnats_telemetry_memory_clear(tel));
    CHECK(memory_count(tel, DAGNATS_RECORD_SPAN) == 0, "clear");

    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(tel));
    end_case();
}

static void test_parents(void) {
    begin("span: local and remote parents");
    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = NULL;
    OK(dagnats_telemetry_in_memory("c-worker", &tel));
    OK(dagnats_telemetry_tracer(tel, &tracer));

    /* Remote parent from a message, with tracestate and flags carried to the child. */
    dagnats_header hs[] = {
        { "TraceParent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03" },
        { "tracestate", "congo=t61rcWkgMzE" },
    };
    dagnats_span_context *remote = NULL;
    OK(dagnats_extract_headers(hs, 2, NULL, 0, &remote));
    dagnats_span *child = NULL;
    OK(dagnats_tracer_start_span(tracer, "worker.executeTask", DAGNATS_SPAN_KIND_CONSUMER, remote, NULL, 0, &child));
    dagnats_span_context_free(remote); /* the child copied what it needs */

    const dagnats_span_context *cctx = dagnats_span_context_of(child);
    CHECK(cctx != NULL, "span context");
    ctx_text t;
    read_ctx(cctx, &t);
    STREQ(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    STREQ(t.tracestate, "congo=t61rcWkgMzE");
    CHECK(t.flags == 3, "flags carried: %u", t.flags);
    CHECK(!t.remote, "a local span's context is not remote");

    /* Local child of the child, through the borrowed context. */
    dagnats_span *grandchild = NULL;
    OK(dagnats_tracer_start_span(tracer, "step", DAGNATS_SPAN_KIND_INTERNAL, cctx, NULL, 0, &grandchild));
    dagnats_span_context *kept = NULL;
    OK(dagnats_span_context_clone(cctx, &kept));
    OK(dagnats_span_end(&grandchild));
    OK(dagnats_span_end(&child));

    json_value g, c;
    if (memory_record(tel, DAGNATS_RECORD_SPAN, 0, &g) == 0) {
        STREQ(json_get_string(&g, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
        STREQ(json_get_string(&g, "parent_id"), t.span_id);
        CHECK(json_get(&g, "parent_is_remote") == NULL, "local parent");
        json_free(&g);
    }
    if (memory_record(tel, DAGNATS_RECORD_SPAN, 1, &c) == 0) {
        STREQ(json_get_string(&c, "parent_id"), "00f067aa0ba902b7");
        CHECK(raw_is(json_get(&c, "parent_is_remote"), "true"), "remote parent flagged");
        STREQ(json_get_string(&c, "kind"), "consumer");
        STREQ(json_get_string(&c, "trace_state"), "congo=t61rcWkgMzE");
        json_free(&c);
    }
    /* The clone outlives the span. */
    ctx_text k;
    read_ctx(kept, &k);
    STREQ(k.span_id, t.span_id);
    dagnats_span_context_free(kept);

    /* A malformed traceparent: no parent, the next span is a new root. */
    dagnats_header bad = { "traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01" };
    dagnats_span_context *none = SENTINEL;
    OK(dagnats_extract_headers(&bad, 1, NULL, 0, &none));
    CHECK(none == NULL, "malformed header gives NULL");

    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(tel));
    end_case();
}

static void test_logs_and_metrics(void) {
    begin("logger and metric instruments");
    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = NULL;
    dagnats_logger *logger = NULL;
    dagnats_counter *counter = NULL;
    dagnats_gauge *gauge = NULL;
    dagnats_histogram *histogram = NULL;
    OK(dagnats_telemetry_in_memory("c-worker", &tel));
    OK(dagnats_telemetry_tracer(tel, &tracer));
    OK(dagnats_telemetry_logger(tel, &logger));
    OK(dagnats_telemetry_counter(tel, "tasks.completed", &counter));
    OK(dagnats_telemetry_gauge(tel, "queue.depth", &gauge));
    OK(dagnats_telemetry_histogram(tel, "task.duration_ms", &histogram));

    dagnats_span *span = NULL;
    OK(dagnats_tracer_start_span(tracer, "step", DAGNATS_SPAN_KIND_INTERNAL, NULL, NULL, 0, &span));
    dagnats_attribute fields[] = { { .key = "step_id", .value_type = DAGNATS_VALUE_STRING, .string_value = "build" },
                                   { .key = "n", .value_type = DAGNATS_VALUE_INT64, .int_value = 7 } };
    OK(dagnats_logger_log(logger, DAGNATS_LEVEL_ERROR, "step failed", dagnats_span_context_of(span), fields, 2, "disk full"));
    OK(dagnats_logger_log(logger, DAGNATS_LEVEL_DEBUG, "no span", NULL, NULL, 0, NULL));
    char span_id[17];
    OK(dagnats_span_span_id(span, span_id, sizeof span_id, NULL));
    OK(dagnats_span_end(&span));

    dagnats_tag tags[] = { { "queue", "default" }, { "step", "build" } };
    OK(dagnats_counter_add(counter, 1, tags, 2));
    OK(dagnats_counter_add(counter, -1, NULL, 0)); /* ignored: a counter only grows */
    OK(dagnats_gauge_set(gauge, 12, NULL, 0));
    OK(dagnats_gauge_set(gauge, INFINITY, NULL, 0)); /* ignored */
    OK(dagnats_histogram_record(histogram, 35.5, tags, 1));

    CHECK(memory_count(tel, DAGNATS_RECORD_LOG) == 2, "two logs");
    CHECK(memory_count(tel, DAGNATS_RECORD_METRIC) == 3, "three metric points");
    json_value r;
    if (memory_record(tel, DAGNATS_RECORD_LOG, 0, &r) == 0) {
        STREQ(json_get_string(&r, "level"), "error");
        STREQ(json_get_string(&r, "message"), "step failed");
        STREQ(json_get_string(&r, "span_id"), span_id);
        STREQ(json_get_string(&r, "error"), "disk full");
        CHECK(raw_is(json_get(json_get(&r, "fields"), "n"), "7"), "int field");
        json_free(&r);
    }
    if (memory_record(tel, DAGNATS_RECORD_LOG, 1, &r) == 0) {
        STREQ(json_get_string(&r, "level"), "debug");
        CHECK(json_get(&r, "trace_id") == NULL, "no span, no trace_id");
        json_free(&r);
    }
    if (memory_record(tel, DAGNATS_RECORD_METRIC, 0, &r) == 0) {
        STREQ(json_get_string(&r, "name"), "tasks.completed");
        STREQ(json_get_string(&r, "type"), "counter");
        STREQ(json_get_string(json_get(&r, "tags"), "queue"), "default");
        json_free(&r);
    }
    if (memory_record(tel, DAGNATS_RECORD_METRIC, 2, &r) == 0) {
        STREQ(json_get_string(&r, "type"), "histogram");
        CHECK(json_get(&r, "value")->number == 35.5, "histogram value");
        json_free(&r);
    }
    dagnats_counter_free(counter);
    dagnats_gauge_free(gauge);
    dagnats_histogram_free(histogram);
    dagnats_logger_free(logger);
    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(tel));
    end_case();
}

static void test_event_dual_write(void) {
    begin("propagation: event dual write and header fallback");
    dagnats_span_context *ctx = NULL;
    OK(dagnats_span_context_from_ids("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 1, "rojo=1", &ctx));
    const char *event = "{\"run_id\":\"r-1\",\"trace_state\":\"stale=1\"}";
    char out[512];
    size_t needed = 0;
    OK(dagnats_inject_event(ctx, (const uint8_t *)event, strlen(event), out, sizeof out, &needed));
    CHECK(needed == strlen(out) + 1, "needed counts the NUL");
    json_value v;
    char err[64];
    CHECK(json_parse(out, &v, err, sizeof err) == 0, "event JSON: %s", out);
    STREQ(json_get_string(&v, "run_id"), "r-1");
    STREQ(json_get_string(&v, "trace_parent"), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    STREQ(json_get_string(&v, "trace_state"), "rojo=1");
    json_free(&v);
    OK(dagnats_inject_event(ctx, NULL, 0, out, sizeof out, NULL));
    CHECK(strstr(out, "trace_parent") != NULL, "new event from NULL: %s", out);

    /* A body that is not JSON carries no event fields, and does not fail the call. */
    dagnats_span_context *none = SENTINEL;
    OK(dagnats_extract_headers(NULL, 0, (const uint8_t *)"\x00\x01garbage", 9, &none));
    CHECK(none == NULL, "garbage body gives no context");
    dagnats_span_context_free(ctx);
    end_case();
}

/* How many of `n` header fields are named traceparent, in any letter case. */
static size_t traceparent_fields(const dagnats_header *hs, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const char *want = "traceparent";
        const char *name = hs[i].name;
        size_t j = 0;
        while (want[j] && name[j] && (name[j] | 0x20) == want[j]) j++;
        if (!want[j] && !name[j]) count++;
    }
    return count;
}

/* An in-memory telemetry (into *tel) and its tracer, for the propagation tests. */
static dagnats_tracer *memory_tracer(const char *service, dagnats_telemetry **tel) {
    dagnats_tracer *tracer = NULL;
    OK(dagnats_telemetry_in_memory(service, tel));
    OK(dagnats_telemetry_tracer(*tel, &tracer));
    return tracer;
}

/* A consumer span started from `parent` (which it frees), its context read into *t. */
static dagnats_span *consumer_of(dagnats_tracer *tracer, const char *name, dagnats_span_context *parent, ctx_text *t) {
    dagnats_span *span = NULL;
    OK(dagnats_tracer_start_span(tracer, name, DAGNATS_SPAN_KIND_CONSUMER, parent, NULL, 0, &span));
    dagnats_span_context_free(parent); /* the span copied what it needs */
    read_ctx(dagnats_span_context_of(span), t);
    return span;
}

/* W3C baggage: read with the parent (every field, any letter case, invalid members
 * dropped), carried by a child span, written once as lowercase `baggage` by both inject
 * calls; the getter follows the other getters' size conventions. */
static void test_baggage(void) {
    begin("propagation: baggage is read, carried by a child span and written once as baggage");
    CHECK(dagnats_header_is_trace_context("Baggage"), "Baggage is replaced on forwarding");
    /* Read through the callback (libnats' way): every field, in any letter case. */
    const dagnats_header incoming[] = {
        { "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
        { "Baggage", "userId=alice , bad key=1" },
        { "BAGGAGE", "isProduction=false;ttl=30" },
    };
    array_carrier carrier = { incoming, 3, 0 };
    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = memory_tracer("c-baggage", &tel);
    dagnats_span_context *parent = NULL;
    OK(dagnats_extract_with(foreach_array, &carrier, NULL, 0, &parent));
    CHECK(parent != NULL, "a parent");
    const char *want = "userId=alice,isProduction=false;ttl=30";
    char buf[128];
    size_t needed = 0;
    memset(buf, 'x', sizeof buf);
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_span_context_baggage(parent, buf, strlen(want), &needed));
    CHECK(needed == strlen(want) + 1, "baggage needs %zu, said %zu", strlen(want) + 1, needed);
    CHECK(buf[0] == 'x', "buffer untouched");
    OK(dagnats_span_context_baggage(parent, buf, needed, &needed));
    STREQ(buf, want);
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "context is NULL", dagnats_span_context_baggage(NULL, buf, sizeof buf, NULL));

    ctx_text t;
    dagnats_span *child = consumer_of(tracer, "worker.executeTask", parent, &t);
    const dagnats_span_context *cx = dagnats_span_context_of(child);
    STREQ(t.baggage, want);

    dagnats_header out[3] = { { NULL, NULL } };
    char values[512];
    size_t written = 0;
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_inject_headers(cx, out, 1, &written, values, sizeof values, &needed));
    CHECK(written == 2 && needed == 56 + strlen(want) + 1, "needs 2 entries and %zu bytes: %zu %zu", 56 + strlen(want) + 1,
          written, needed);
    OK(dagnats_inject_headers(cx, out, 3, &written, values, sizeof values, NULL));
    CHECK(written == 2, "traceparent and baggage: %zu", written);
    STREQ(out[0].name, "traceparent");
    STREQ(out[0].value, t.traceparent);
    STREQ(out[1].name, "baggage");
    STREQ(out[1].value, want);
    set_carrier sc = { 0 };
    OK(dagnats_inject_with(cx, set_field, &sc));
    CHECK(sc.len == 2, "two fields set: %zu", sc.len);
    if (sc.len == 2) {
        STREQ(sc.names[1], "baggage");
        STREQ(sc.values[1], want);
    }

    /* A context without baggage: none written, the getter gives "". */
    dagnats_span *root = NULL;
    OK(dagnats_tracer_start_span(tracer, "root", DAGNATS_SPAN_KIND_INTERNAL, NULL, NULL, 0, &root));
    OK(dagnats_span_context_baggage(dagnats_span_context_of(root), buf, sizeof buf, &needed));
    CHECK(buf[0] == 0 && needed == 1, "no baggage: \"%s\" (%zu)", buf, needed);
    OK(dagnats_inject_headers(dagnats_span_context_of(root), out, 3, &written, values, sizeof values, NULL));
    CHECK(written == 1, "traceparent only: %zu", written);
    OK(dagnats_span_end(&root));
    OK(dagnats_span_end(&child));
    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(tel));
    end_case();
}

static void test_forwarding(void) {
    begin("propagation: handing on a message with a stale TraceParent carries exactly one traceparent");
    CHECK(dagnats_header_is_trace_context("traceparent"), "traceparent");
    CHECK(dagnats_header_is_trace_context("TraceParent"), "TraceParent");
    CHECK(dagnats_header_is_trace_context("TRACESTATE"), "TRACESTATE");
    CHECK(!dagnats_header_is_trace_context("trace-parent"), "trace-parent is another header");
    CHECK(!dagnats_header_is_trace_context("traceparent-x"), "a longer name");
    CHECK(!dagnats_header_is_trace_context(""), "empty name");
    CHECK(!dagnats_header_is_trace_context(NULL), "NULL");
    CHECK(!dagnats_header_is_trace_context("trace\xffparent"), "not UTF-8");

    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = memory_tracer("c-forward", &tel);

    /* A received message whose sender spelled the names its own way. */
    const dagnats_header incoming[] = {
        { "TraceParent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
        { "run-id", "r-7" },
        { "TRACESTATE", "old=1" },
    };
    dagnats_span_context *parent = NULL;
    OK(dagnats_extract_headers(incoming, 3, NULL, 0, &parent));
    CHECK(parent != NULL, "the incoming TraceParent is read");
    ctx_text mine;
    dagnats_span *span = consumer_of(tracer, "forward", parent, &mine);
    const dagnats_span_context *cx = dagnats_span_context_of(span);

    /* Hand it on: the incoming fields except trace context, then our own. */
    dagnats_header outgoing[8];
    size_t n = 0, written = 0;
    for (size_t i = 0; i < 3; i++) {
        if (!dagnats_header_is_trace_context(incoming[i].name)) outgoing[n++] = incoming[i];
    }
    char values[1024];
    OK(dagnats_inject_headers(cx, outgoing + n, 8 - n, &written, values, sizeof values, NULL));
    n += written;
    CHECK(n == 3, "run-id, traceparent, tracestate: %zu fields", n);
    CHECK(traceparent_fields(outgoing, n) == 1, "%zu traceparent fields", traceparent_fields(outgoing, n));
    STREQ(outgoing[0].name, "run-id");
    dagnats_span_context *next = NULL;
    OK(dagnats_extract_headers(outgoing, n, NULL, 0, &next));
    CHECK(next != NULL, "our own reader accepts the forwarded headers");
    if (next) {
        ctx_text got;
        read_ctx(next, &got);
        STREQ(got.traceparent, mine.traceparent);
        STREQ(got.tracestate, "old=1"); /* the span carries its parent's tracestate, once */
        dagnats_span_context_free(next);
    }

    /* What skipping prevents: the stale copy beside the fresh one is two values, which
       every reader refuses as ambiguous. */
    dagnats_header naive[8] = { incoming[0], incoming[1], incoming[2] };
    OK(dagnats_inject_headers(cx, naive + 3, 5, &written, values, sizeof values, NULL));
    CHECK(traceparent_fields(naive, 3 + written) == 2, "the naive copy has two");
    next = SENTINEL;
    OK(dagnats_extract_headers(naive, 3 + written, NULL, 0, &next));
    CHECK(next == NULL, "two traceparent values are no parent");
    free_ctx(next);

    OK(dagnats_span_end(&span));
    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(tel));
    end_case();
}

typedef struct {
    dagnats_tracer *tracer;
    int spans;
    int failures;
} thread_arg;

static void *thread_spans(void *p) {
    thread_arg *a = p;
    for (int i = 0; i < a->spans; i++) {
        dagnats_span *s = NULL;
        if (dagnats_tracer_start_span(a->tracer, "threaded", DAGNATS_SPAN_KIND_INTERNAL, NULL, NULL, 0, &s) != DAGNATS_RESULT_OK ||
            dagnats_span_set_attribute_int64(s, "i", i) != DAGNATS_RESULT_OK || dagnats_span_end(&s) != DAGNATS_RESULT_OK) {
            a->failures++;
        }
    }
    return NULL;
}

static void test_threads(void) {
    begin("threads: one tracer shared by four threads");
    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = NULL;
    OK(dagnats_telemetry_in_memory("c-threads", &tel));
    OK(dagnats_telemetry_tracer(tel, &tracer));
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){ tracer, 250, 0 };
        pthread_create(&th[i], NULL, thread_spans, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].failures == 0, "thread %d had failures", i);
    }
    CHECK(memory_count(tel, DAGNATS_RECORD_SPAN) == 1000, "1000 spans");
    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(tel));
    end_case();
}

static void test_fork(void) {
    begin("fork: the child reseeds its ids, and its inherited NATS telemetry works after dagnats_after_fork_child");
    /* A NATS telemetry whose server is not reachable: connecting still succeeds (records
       wait in the buffer), which is all this needs. Port 1 is never a NATS server. (The
       end-to-end run forks against a real server and reads the child's span back.) */
    dagnats_connect_options *opts = NULL;
    dagnats_telemetry *nats = NULL, *mem = NULL;
    dagnats_tracer *tracer = NULL;
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_connect_options_set_url(opts, "nats://127.0.0.1:1"));
    OK(dagnats_connect_options_set_connect_timeout_ms(opts, 500));
    OK(dagnats_telemetry_connect(opts, &nats));
    dagnats_connect_options_free(opts);
    OK(dagnats_telemetry_in_memory("c-fork", &mem));
    OK(dagnats_telemetry_tracer(mem, &tracer));

    int pipefd[2];
    CHECK(pipe(pipefd) == 0, "pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        /* Child: what flush on the inherited telemetry says before and after
           dagnats_after_fork_child, a fresh span id, and what flush says with a span of
           the child's own pending (the server is down: it waits, so TIMEOUT). */
        dagnats_result before = dagnats_telemetry_flush(nats, 100);
        dagnats_after_fork_child();
        char line[96] = "";
        dagnats_span *s = NULL;
        dagnats_tracer *nt = NULL;
        if (dagnats_tracer_start_span(tracer, "child", DAGNATS_SPAN_KIND_INTERNAL, NULL, NULL, 0, &s) == DAGNATS_RESULT_OK &&
            dagnats_telemetry_tracer(nats, &nt) == DAGNATS_RESULT_OK) {
            char id[17];
            dagnats_span_span_id(s, id, sizeof id, NULL);
            dagnats_span_end(&s);
            dagnats_result idle = dagnats_telemetry_flush(nats, 100);
            dagnats_tracer_start_span(nt, "child.pending", DAGNATS_SPAN_KIND_INTERNAL, NULL, NULL, 0, &s);
            dagnats_span_end(&s);
            dagnats_result pending = dagnats_telemetry_flush(nats, 100);
            snprintf(line, sizeof line, "%s %u %u %u", id, (unsigned)before, (unsigned)idle, (unsigned)pending);
        }
        ssize_t w = write(pipefd[1], line, strlen(line) + 1);
        if (w <= 0) _exit(1);
        /* The child holds a copy of the parent's heap whose owners (the parent's
           collector thread) did not come along, so a leak checker run at its exit would
           blame that copy. Replacing the process image ends it without one. */
        execlp("true", "true", (char *)NULL);
        _exit(0);
    }
    close(pipefd[1]);
    dagnats_span *s = NULL;
    char parent_id[17] = "";
    OK(dagnats_tracer_start_span(tracer, "parent", DAGNATS_SPAN_KIND_INTERNAL, NULL, NULL, 0, &s));
    OK(dagnats_span_span_id(s, parent_id, sizeof parent_id, NULL));
    OK(dagnats_span_end(&s));
    char line[96] = "";
    ssize_t got = read(pipefd[0], line, sizeof line - 1);
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(got > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: read %zd, status %d", got, status);
    char child_id[17] = "";
    unsigned before = 0, idle = 0, pending = 0;
    CHECK(sscanf(line, "%16s %u %u %u", child_id, &before, &idle, &pending) == 4, "child said %s", line);
    CHECK(strcmp(child_id, parent_id) != 0, "child and parent drew the same span id %s", child_id);
    CHECK(before == DAGNATS_RESULT_NOT_CONNECTED, "flush in the child before dagnats_after_fork_child returned %u", before);
    CHECK(idle == DAGNATS_RESULT_OK, "flush in the child with nothing pending returned %u", idle);
    CHECK(pending == DAGNATS_RESULT_TIMEOUT, "flush in the child with its span waiting for the server returned %u", pending);

    /* Back in the parent, the NATS telemetry still works (the server is just down). */
    dagnats_tracer *nt = NULL;
    OK(dagnats_telemetry_tracer(nats, &nt));
    OK(dagnats_tracer_start_span(nt, "pending", DAGNATS_SPAN_KIND_INTERNAL, NULL, NULL, 0, &s));
    OK(dagnats_span_end(&s));
    EXPECT_ERR(DAGNATS_RESULT_TIMEOUT, "not yet acknowledged", dagnats_telemetry_flush(nats, 50));
    EXPECT(DAGNATS_RESULT_TIMEOUT, dagnats_telemetry_close(nats, 50));
    EXPECT(DAGNATS_RESULT_CLOSED, dagnats_telemetry_close(nats, 50));
    uint64_t dropped = 0;
    OK(dagnats_telemetry_dropped(nats, &dropped));
    CHECK(dropped >= 1, "the undelivered span is counted as dropped");
    dagnats_tracer_free(nt);
    OK(dagnats_telemetry_free(nats));
    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(mem));
    end_case();
}

/* ------------------------------------------------------------------------------------ */
/* Error paths */

static const char *BAD_UTF8 = "bad \xc3\x28 text";

static void test_null_arguments(void) {
    begin("errors: NULL arguments");
    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = NULL;
    dagnats_span *span = NULL;
    dagnats_logger *logger = NULL;
    dagnats_counter *counter = NULL;
    char buf[64];
    OK(dagnats_telemetry_in_memory("c", &tel));
    OK(dagnats_telemetry_tracer(tel, &tracer));
    OK(dagnats_telemetry_logger(tel, &logger));
    OK(dagnats_telemetry_counter(tel, "c", &counter));
    OK(dagnats_tracer_start_span(tracer, "s", 0, NULL, NULL, 0, &span));

    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "service is NULL", dagnats_telemetry_in_memory(NULL, &tel));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "out is NULL", dagnats_telemetry_in_memory("x", NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "out is NULL", dagnats_telemetry_noop("x", NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "options is NULL", dagnats_telemetry_connect(NULL, &tel));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "out is NULL", dagnats_connect_options_new(NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "options is NULL", dagnats_connect_options_set_url(NULL, "nats://x"));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "telemetry is NULL", dagnats_telemetry_flush(NULL, 10));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "telemetry is NULL", dagnats_telemetry_close(NULL, 10));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "telemetry is NULL", dagnats_telemetry_tracer(NULL, &tracer));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "out is NULL", dagnats_telemetry_tracer(tel, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "out is NULL", dagnats_telemetry_dropped(tel, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "out_count is NULL", dagnats_telemetry_memory_count(tel, 0, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "tracer is NULL", dagnats_tracer_start_span(NULL, "s", 0, NULL, NULL, 0, &span));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "name is NULL", dagnats_tracer_start_span(tracer, NULL, 0, NULL, NULL, 0, &span));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "attributes is NULL", dagnats_tracer_start_span(tracer, "s", 0, NULL, NULL, 2, &span));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "out is NULL", dagnats_tracer_start_span(tracer, "s", 0, NULL, NULL, 0, NULL));
    dagnats_attribute no_key[] = { { .key = NULL, .value_type = DAGNATS_VALUE_INT64 } };
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "attributes[0]: attribute key is NULL",
               dagnats_tracer_start_span(tracer, "s", 0, NULL, no_key, 1, NULL));
    dagnats_attribute no_value[] = { { .key = "k", .value_type = DAGNATS_VALUE_STRING, .string_value = NULL } };
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "string_value is NULL", dagnats_span_set_attributes(span, no_value, 1));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "span is NULL", dagnats_span_set_attribute_string(NULL, "k", "v"));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "key is NULL", dagnats_span_set_attribute_string(span, NULL, "v"));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "value is NULL", dagnats_span_set_attribute_string(span, "k", NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "key is NULL", dagnats_span_set_attribute_int64(span, NULL, 1));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "key is NULL", dagnats_span_set_attribute_double(span, NULL, 1));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "key is NULL", dagnats_span_set_attribute_bool(span, NULL, true));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "span is NULL", dagnats_span_set_status(NULL, 1, NULL));
    OK(dagnats_span_set_status(span, DAGNATS_STATUS_ERROR, NULL)); /* NULL description is allowed */
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "message is NULL", dagnats_span_record_error(span, NULL, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "name is NULL", dagnats_span_add_event(span, NULL, NULL, 0));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "span is NULL", dagnats_span_trace_id(NULL, buf, sizeof buf, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "buf is NULL", dagnats_span_trace_id(span, NULL, 40, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "span is NULL", dagnats_span_end(NULL));
    CHECK(dagnats_span_context_of(NULL) == NULL, "context of NULL");
    CHECK(dagnats_span_context_flags(NULL) == 0, "flags of NULL");
    CHECK(!dagnats_span_context_is_remote(NULL), "is_remote of NULL");
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "context is NULL", dagnats_span_context_traceparent(NULL, buf, sizeof buf, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "context is NULL", dagnats_span_context_clone(NULL, NULL));
    dagnats_span_context *ctx = NULL;
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "trace_id is NULL", dagnats_span_context_from_ids(NULL, "00f067aa0ba902b7", 1, NULL, &ctx));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "headers is NULL", dagnats_extract_headers(NULL, 1, NULL, 0, &ctx));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "out is NULL", dagnats_extract_headers(NULL, 0, NULL, 0, NULL));
    dagnats_header null_value = { "traceparent", NULL };
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "headers[0].value is NULL", dagnats_extract_headers(&null_value, 1, NULL, 0, &ctx));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "event is NULL", dagnats_extract_headers(NULL, 0, NULL, 5, &ctx));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "foreach is NULL", dagnats_extract_with(NULL, NULL, NULL, 0, &ctx));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "set is NULL", dagnats_inject_with(dagnats_span_context_of(span), NULL, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "headers_written is NULL",
               dagnats_inject_headers(dagnats_span_context_of(span), NULL, 0, NULL, NULL, 0, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "logger is NULL", dagnats_logger_log(NULL, 2, "m", NULL, NULL, 0, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "message is NULL", dagnats_logger_log(logger, 2, NULL, NULL, NULL, 0, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "fields is NULL", dagnats_logger_log(logger, 2, "m", NULL, NULL, 1, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "counter is NULL", dagnats_counter_add(NULL, 1, NULL, 0));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "tags is NULL", dagnats_counter_add(counter, 1, NULL, 3));
    dagnats_tag null_tag = { "k", NULL };
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "tags[0].value is NULL", dagnats_counter_add(counter, 1, &null_tag, 1));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "name is NULL", dagnats_telemetry_gauge(tel, NULL, NULL));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "gauge is NULL", dagnats_gauge_set(NULL, 1, NULL, 0));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "histogram is NULL", dagnats_histogram_record(NULL, 1, NULL, 0));

    /* Every free accepts NULL. */
    dagnats_tracer_free(NULL);
    dagnats_logger_free(NULL);
    dagnats_counter_free(NULL);
    dagnats_gauge_free(NULL);
    dagnats_histogram_free(NULL);
    dagnats_span_context_free(NULL);
    dagnats_connect_options_free(NULL);
    OK(dagnats_telemetry_free(NULL));

    /* Nothing failed above was recorded: no span, log or metric came out of them. */
    OK(dagnats_span_end(&span));
    CHECK(memory_count(tel, DAGNATS_RECORD_SPAN) == 1, "only the one valid span");
    CHECK(memory_count(tel, DAGNATS_RECORD_LOG) == 0, "no logs from failed calls");
    CHECK(memory_count(tel, DAGNATS_RECORD_METRIC) == 0, "no metrics from failed calls");
    json_value r;
    if (memory_record(tel, DAGNATS_RECORD_SPAN, 0, &r) == 0) {
        CHECK(json_get(&r, "attributes") == NULL, "no attribute from the failed calls");
        CHECK(json_get(&r, "events") == NULL, "no event from the failed calls");
        json_free(&r);
    }
    dagnats_counter_free(counter);
    dagnats_logger_free(logger);
    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(tel));
    end_case();
}

static void test_invalid_utf8(void) {
    begin("errors: invalid UTF-8 in every kind of string argument");
    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = NULL;
    dagnats_span *span = NULL;
    dagnats_logger *logger = NULL;
    dagnats_counter *counter = NULL;
    dagnats_connect_options *opts = NULL;
    OK(dagnats_telemetry_in_memory("c", &tel));
    OK(dagnats_telemetry_tracer(tel, &tracer));
    OK(dagnats_telemetry_logger(tel, &logger));
    OK(dagnats_telemetry_counter(tel, "c", &counter));
    OK(dagnats_tracer_start_span(tracer, "s", 0, NULL, NULL, 0, &span));
    OK(dagnats_connect_options_new(&opts));

    dagnats_telemetry *t2 = NULL;
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "service: invalid UTF-8 at byte 4", dagnats_telemetry_in_memory(BAD_UTF8, &t2));
    CHECK(t2 == NULL, "no output on failure");
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "url: invalid UTF-8", dagnats_connect_options_set_url(opts, BAD_UTF8));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "password: invalid UTF-8", dagnats_connect_options_set_user_password(opts, "u", BAD_UTF8));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "path: invalid UTF-8", dagnats_connect_options_set_tls_ca_file(opts, BAD_UTF8));
    dagnats_span *s2 = NULL;
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "name: invalid UTF-8", dagnats_tracer_start_span(tracer, BAD_UTF8, 0, NULL, NULL, 0, &s2));
    dagnats_attribute bad_attr[] = { { .key = "ok", .value_type = DAGNATS_VALUE_BOOL, .bool_value = true },
                                     { .key = "k", .value_type = DAGNATS_VALUE_STRING, .string_value = BAD_UTF8 } };
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "attributes[1]: attribute string_value: invalid UTF-8",
               dagnats_tracer_start_span(tracer, "s", 0, NULL, bad_attr, 2, &s2));
    CHECK(s2 == NULL, "no span on failure");
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "key: invalid UTF-8", dagnats_span_set_attribute_string(span, BAD_UTF8, "v"));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "value: invalid UTF-8", dagnats_span_set_attribute_string(span, "k", BAD_UTF8));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "key: invalid UTF-8", dagnats_span_set_attribute_int64(span, BAD_UTF8, 1));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "key: invalid UTF-8", dagnats_span_set_attribute_double(span, BAD_UTF8, 1));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "key: invalid UTF-8", dagnats_span_set_attribute_bool(span, BAD_UTF8, 1));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "attributes[1]", dagnats_span_set_attributes(span, bad_attr, 2));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "description: invalid UTF-8", dagnats_span_set_status(span, 2, BAD_UTF8));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "message: invalid UTF-8", dagnats_span_record_error(span, BAD_UTF8, NULL));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "type_name: invalid UTF-8", dagnats_span_record_error(span, "m", BAD_UTF8));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "name: invalid UTF-8", dagnats_span_add_event(span, BAD_UTF8, NULL, 0));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "message: invalid UTF-8", dagnats_logger_log(logger, 2, BAD_UTF8, NULL, NULL, 0, NULL));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "error: invalid UTF-8", dagnats_logger_log(logger, 2, "m", NULL, NULL, 0, BAD_UTF8));
    dagnats_tag bad_tag = { BAD_UTF8, "v" };
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "tags[0].key: invalid UTF-8", dagnats_counter_add(counter, 1, &bad_tag, 1));
    dagnats_counter *c2 = NULL;
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "name: invalid UTF-8", dagnats_telemetry_counter(tel, BAD_UTF8, &c2));
    dagnats_span_context *ctx = NULL;
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "span_id: invalid UTF-8",
               dagnats_span_context_from_ids("4bf92f3577b34da6a3ce929d0e0e4736", BAD_UTF8, 1, NULL, &ctx));

    /* Header content comes from the wire: invalid UTF-8 there is no trace context, never
       an error, and does not hide a valid traceparent in another field. */
    dagnats_header hs[] = { { "x-binary", "\xff\xfe" },
                            { "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
                            { "tracestate", "a=\xff" } };
    OK(dagnats_extract_headers(hs, 3, NULL, 0, &ctx));
    CHECK(ctx != NULL, "valid traceparent beside binary headers");
    if (ctx) {
        ctx_text t;
        read_ctx(ctx, &t);
        STREQ(t.tracestate, ""); /* the invalid tracestate is dropped */
        dagnats_span_context_free(ctx);
    }
    dagnats_header bad_tp = { "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-\xc3\x28" };
    ctx = SENTINEL;
    OK(dagnats_extract_headers(&bad_tp, 1, NULL, 0, &ctx));
    CHECK(ctx == NULL, "non-UTF-8 traceparent is no context");

    OK(dagnats_span_end(&span));
    json_value r;
    if (memory_record(tel, DAGNATS_RECORD_SPAN, 0, &r) == 0) {
        CHECK(json_get(&r, "attributes") == NULL, "nothing from the failed calls");
        STREQ(json_get_string(&r, "status"), "unset");
        json_free(&r);
    }
    dagnats_connect_options_free(opts);
    dagnats_counter_free(counter);
    dagnats_logger_free(logger);
    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(tel));
    end_case();
}

static void test_invalid_arguments(void) {
    begin("errors: invalid arguments (enums, ids, JSON, indexes, modes)");
    dagnats_telemetry *tel = NULL, *noop = NULL;
    dagnats_tracer *tracer = NULL;
    dagnats_span *span = NULL;
    dagnats_logger *logger = NULL;
    dagnats_connect_options *opts = NULL;
    OK(dagnats_telemetry_in_memory("c", &tel));
    OK(dagnats_telemetry_noop("c", &noop));
    OK(dagnats_telemetry_tracer(tel, &tracer));
    OK(dagnats_telemetry_logger(tel, &logger));
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_tracer_start_span(tracer, "s", 0, NULL, NULL, 0, &span));
    char buf[256];
    size_t n;

    dagnats_span *s2 = NULL;
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "unknown span kind 99", dagnats_tracer_start_span(tracer, "s", 99, NULL, NULL, 0, &s2));
    dagnats_attribute bad_type[] = { { .key = "k", .value_type = 42 } };
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "unknown value_type 42", dagnats_span_set_attributes(span, bad_type, 1));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "unknown status code 7", dagnats_span_set_status(span, 7, NULL));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "unknown level 9", dagnats_logger_log(logger, 9, "m", NULL, NULL, 0, NULL));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "unknown record type 5", dagnats_telemetry_memory_count(tel, 5, &n));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "index 3 is past", dagnats_telemetry_memory_json(tel, 0, 3, buf, sizeof buf, NULL));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "not created by dagnats_telemetry_in_memory", dagnats_telemetry_memory_count(noop, 0, &n));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "records", dagnats_connect_options_set_buffer_capacity(opts, 0));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "publishes", dagnats_connect_options_set_max_in_flight(opts, 0));
    dagnats_span_context *ctx = NULL;
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "trace_id",
               dagnats_span_context_from_ids("4BF92F3577B34DA6A3CE929D0E0E4736", "00f067aa0ba902b7", 1, NULL, &ctx));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "trace_id",
               dagnats_span_context_from_ids("00000000000000000000000000000000", "00f067aa0ba902b7", 1, NULL, &ctx));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "span_id",
               dagnats_span_context_from_ids("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902", 1, NULL, &ctx));
    CHECK(ctx == NULL, "no context on failure");
    const char *array = "[1,2]";
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "not a JSON object",
               dagnats_inject_event(dagnats_span_context_of(span), (const uint8_t *)array, 5, buf, sizeof buf, NULL));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "not JSON",
               dagnats_inject_event(dagnats_span_context_of(span), (const uint8_t *)"{", 1, buf, sizeof buf, NULL));

    /* Options that only connect can judge. */
    OK(dagnats_connect_options_set_url(opts, "nats://127.0.0.1:1"));
    OK(dagnats_connect_options_set_credentials_file(opts, "/nonexistent/dagnats.creds"));
    dagnats_telemetry *t2 = NULL;
    EXPECT_ERR(DAGNATS_RESULT_INVALID_CONFIG, "credentials file", dagnats_telemetry_connect(opts, &t2));
    CHECK(t2 == NULL, "no telemetry on failure");
    dagnats_connect_options_free(opts);
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_connect_options_set_url(opts, "http://u:hunter2@127.0.0.1:1"));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_CONFIG, "invalid_url: url", dagnats_telemetry_connect(opts, &t2));
    CHECK(strstr(last_error(), "hunter2") == NULL, "the URL's password leaked: %s", last_error());
    CHECK(t2 == NULL, "no telemetry on failure");

    /* Callbacks that fail stop the call. */
    array_carrier failing = { NULL, 0, 7 };
    EXPECT_ERR(DAGNATS_RESULT_CALLBACK_FAILED, "foreach returned 7", dagnats_extract_with(foreach_array, &failing, NULL, 0, &ctx));
    set_carrier refusing = { .fail_with = -1 };
    EXPECT_ERR(DAGNATS_RESULT_CALLBACK_FAILED, "returned -1", dagnats_inject_with(dagnats_span_context_of(span), set_field, &refusing));

    /* Result texts. */
    STREQ(dagnats_result_text(DAGNATS_RESULT_OK), "ok");
    STREQ(dagnats_result_text(DAGNATS_RESULT_BUFFER_TOO_SMALL), "the output buffer is too small");
    STREQ(dagnats_result_text(12345), "unknown result code");
    STREQ(dagnats_version(), DAGNATS_OBSERVE_VERSION);

    OK(dagnats_span_end(&span));
    dagnats_connect_options_free(opts);
    dagnats_logger_free(logger);
    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(noop));
    OK(dagnats_telemetry_free(tel));
    end_case();
}

static void test_small_buffers(void) {
    begin("errors: small buffers report the size needed and stay untouched");
    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = NULL;
    dagnats_span *span = NULL;
    OK(dagnats_telemetry_in_memory("c", &tel));
    OK(dagnats_telemetry_tracer(tel, &tracer));
    OK(dagnats_tracer_start_span(tracer, "s", 0, NULL, NULL, 0, &span));

    char buf[64];
    size_t needed = 0;
    memset(buf, 'x', sizeof buf);
    EXPECT_ERR(DAGNATS_RESULT_BUFFER_TOO_SMALL, "33 needed", dagnats_span_trace_id(span, buf, 32, &needed));
    CHECK(needed == 33, "trace id needs 33, said %zu", needed);
    CHECK(buf[0] == 'x' && buf[31] == 'x', "buffer untouched");
    OK(dagnats_span_trace_id(span, buf, 33, &needed));
    CHECK(strlen(buf) == 32, "32 hex");
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_span_span_id(span, buf, 16, &needed));
    CHECK(needed == 17, "span id needs 17");
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_span_traceparent(span, NULL, 0, &needed));
    CHECK(needed == 56, "traceparent needs 56");
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_span_traceparent(span, buf, 55, NULL)); /* needed may be NULL */
    const dagnats_span_context *ctx = dagnats_span_context_of(span);
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_span_context_traceparent(ctx, buf, 10, &needed));
    CHECK(needed == 56, "context traceparent needs 56");
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_span_context_tracestate(ctx, NULL, 0, &needed));
    CHECK(needed == 1, "empty tracestate needs 1");

    /* Inject into arrays: too few entries, then too few bytes. */
    dagnats_span_context *with_state = NULL;
    OK(dagnats_span_context_from_ids("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1, "a=1", &with_state));
    dagnats_header hs[2] = { { NULL, NULL }, { NULL, NULL } };
    size_t written = 0;
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_inject_headers(with_state, hs, 1, &written, buf, sizeof buf, &needed));
    CHECK(written == 2 && needed == 56 + 4, "needs 2 entries and 60 bytes: %zu %zu", written, needed);
    CHECK(hs[0].name == NULL, "entries untouched");
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_inject_headers(with_state, hs, 2, &written, buf, 59, &needed));
    OK(dagnats_inject_headers(with_state, hs, 2, &written, buf, 60, &needed));
    STREQ(hs[0].name, "traceparent");
    STREQ(hs[1].name, "tracestate");
    STREQ(hs[1].value, "a=1");
    dagnats_span_context_free(with_state);

    /* In-memory JSON: ask, then fit exactly. */
    OK(dagnats_span_end(&span));
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_telemetry_memory_json(tel, DAGNATS_RECORD_SPAN, 0, NULL, 0, &needed));
    char *json = malloc(needed);
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_telemetry_memory_json(tel, DAGNATS_RECORD_SPAN, 0, json, needed - 1, NULL));
    OK(dagnats_telemetry_memory_json(tel, DAGNATS_RECORD_SPAN, 0, json, needed, NULL));
    CHECK(strlen(json) + 1 == needed, "exact fit");
    free(json);

    /* The last error itself. */
    EXPECT(DAGNATS_RESULT_NULL_ARGUMENT, dagnats_span_end(&span)); /* sets a last error */
    size_t msg_needed = 0;
    char tiny[4] = "xyz";
    EXPECT(DAGNATS_RESULT_BUFFER_TOO_SMALL, dagnats_last_error_message(tiny, sizeof tiny, &msg_needed));
    CHECK(msg_needed > 4 && tiny[0] == 'x', "last error needs %zu", msg_needed);

    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(tel));
    end_case();
}

static void test_double_free(void) {
    begin("errors: double free and use after free are caught where the API can");
    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = NULL;
    dagnats_span *span = NULL;
    OK(dagnats_telemetry_in_memory("c", &tel));
    OK(dagnats_telemetry_tracer(tel, &tracer));

    /* A span: end frees it and NULLs the variable, so ending twice is harmless. */
    OK(dagnats_tracer_start_span(tracer, "s", 0, NULL, NULL, 0, &span));
    OK(dagnats_span_end(&span));
    CHECK(span == NULL, "end NULLs the span");
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "already ended", dagnats_span_end(&span));
    EXPECT(DAGNATS_RESULT_NULL_ARGUMENT, dagnats_span_set_attribute_int64(span, "k", 1));
    CHECK(memory_count(tel, DAGNATS_RECORD_SPAN) == 1, "ended once");

    /* A telemetry: live handles are registered, so a freed one is recognised without
       touching its memory. */
    dagnats_telemetry *copy = tel;
    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(tel));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_HANDLE, "not a live handle", dagnats_telemetry_free(copy));
    EXPECT(DAGNATS_RESULT_INVALID_HANDLE, dagnats_telemetry_flush(copy, 10));
    EXPECT(DAGNATS_RESULT_INVALID_HANDLE, dagnats_telemetry_close(copy, 10));
    EXPECT(DAGNATS_RESULT_INVALID_HANDLE, dagnats_telemetry_tracer(copy, &tracer));
    size_t n;
    EXPECT(DAGNATS_RESULT_INVALID_HANDLE, dagnats_telemetry_memory_count(copy, 0, &n));
    /* A pointer that never was a telemetry. */
    int not_a_handle = 0;
    EXPECT(DAGNATS_RESULT_INVALID_HANDLE, dagnats_telemetry_free((dagnats_telemetry *)&not_a_handle));

    /* A tracer outlives its telemetry; its spans still end cleanly. */
    dagnats_telemetry *t2 = NULL;
    dagnats_tracer *orphan = NULL;
    OK(dagnats_telemetry_in_memory("c", &t2));
    OK(dagnats_telemetry_tracer(t2, &orphan));
    OK(dagnats_telemetry_free(t2));
    OK(dagnats_tracer_start_span(orphan, "late", 0, NULL, NULL, 0, &span));
    OK(dagnats_span_end(&span));
    dagnats_tracer_free(orphan);
    end_case();
}

/* ------------------------------------------------------------------------------------ */
/* The format option (issue 14): "records" or "engine", else DAGNATS_TELEMETRY_FORMAT. */

static void test_format_option(void) {
    begin("format: set_format takes records and engine; NULL, bad UTF-8 and unknown names are errors naming the accepted values");
    clear_nats_env();
    unsetenv("DAGNATS_TELEMETRY_FORMAT");
    dagnats_connect_options *opts = NULL;
    dagnats_telemetry *t = NULL;
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_connect_options_set_format(opts, "engine"));
    OK(dagnats_connect_options_set_format(opts, "records"));
    OK(dagnats_connect_options_set_format(opts, " ENGINE "));
    EXPECT(DAGNATS_RESULT_NULL_ARGUMENT, dagnats_connect_options_set_format(NULL, "engine"));
    EXPECT_ERR(DAGNATS_RESULT_NULL_ARGUMENT, "format", dagnats_connect_options_set_format(opts, NULL));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_UTF8, "format", dagnats_connect_options_set_format(opts, "eng\xffine"));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "expected one of records, engine", dagnats_connect_options_set_format(opts, "otlp"));
    CHECK(strstr(last_error(), "\"otlp\"") != NULL, "the message does not name the value: %s", last_error());
    EXPECT_ERR(DAGNATS_RESULT_INVALID_ARGUMENT, "records, engine", dagnats_connect_options_set_format(opts, ""));
    dagnats_connect_options_free(opts);
    end_case();

    begin("format: an unknown DAGNATS_TELEMETRY_FORMAT is INVALID_CONFIG at connect, naming the variable and the accepted values");
    setenv("DAGNATS_TELEMETRY_FORMAT", "otlp", 1);
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_connect_options_set_url(opts, "nats://127.0.0.1:1"));
    EXPECT_ERR(DAGNATS_RESULT_INVALID_CONFIG, "expected one of records, engine", dagnats_telemetry_connect(opts, &t));
    CHECK(strstr(last_error(), "DAGNATS_TELEMETRY_FORMAT") != NULL, "the message does not name the variable: %s", last_error());
    CHECK(t == NULL, "no telemetry on failure");
    dagnats_connect_options_free(opts);
    end_case();

    begin("format: an in-memory telemetry keeps records whatever DAGNATS_TELEMETRY_FORMAT says");
    setenv("DAGNATS_TELEMETRY_FORMAT", "engine", 1);
    dagnats_tracer *tracer = NULL;
    dagnats_span *span = NULL;
    OK(dagnats_telemetry_in_memory("c-mem", &t));
    OK(dagnats_telemetry_tracer(t, &tracer));
    OK(dagnats_tracer_start_span(tracer, "work", DAGNATS_SPAN_KIND_INTERNAL, NULL, NULL, 0, &span));
    OK(dagnats_span_end(&span));
    json_value record;
    if (memory_record(t, DAGNATS_RECORD_SPAN, 0, &record) == 0) {
        CHECK(json_get_string(&record, "trace_id") != NULL, "no trace_id: not a record");
        CHECK(json_get(&record, "traceId") == NULL, "an engine key in an in-memory record");
        const char *service = json_get_string(&record, "service");
        CHECK(service && strcmp(service, "c-mem") == 0, "service %s", service ? service : "(none)");
        json_free(&record);
    }
    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(t));
    unsetenv("DAGNATS_TELEMETRY_FORMAT");
    end_case();
}

/* ------------------------------------------------------------------------------------ */
/* Against a real nats-server ($NATS_URL): two services, a trace across them, and the
   failures only a server can produce. tests/e2e/driver.rs reads TELEMETRY back. */

/* fork() with a NATS telemetry: the child calls dagnats_after_fork_child and records a
   span through the telemetry and tracer it inherited; the span reaches TELEMETRY
   (tests/e2e/driver.rs reads it back from the E2E_FORK line) with ids of its own. */
static void e2e_fork(const char *url) {
    begin("e2e: after fork the child's span goes out through the inherited telemetry, with its own ids");
    dagnats_connect_options *opts = NULL;
    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = NULL;
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_connect_options_set_url(opts, url));
    OK(dagnats_connect_options_set_service(opts, "c-fork"));
    OK(dagnats_telemetry_connect(opts, &tel));
    dagnats_connect_options_free(opts);
    if (!tel) {
        end_case();
        return;
    }
    OK(dagnats_telemetry_tracer(tel, &tracer));
    dagnats_span *span = NULL;
    char parent_trace[33] = "", parent_span[17] = "";
    OK(dagnats_tracer_start_span(tracer, "fork.parent", DAGNATS_SPAN_KIND_INTERNAL, NULL, NULL, 0, &span));
    OK(dagnats_span_trace_id(span, parent_trace, sizeof parent_trace, NULL));
    OK(dagnats_span_span_id(span, parent_span, sizeof parent_span, NULL));
    OK(dagnats_span_end(&span));
    OK(dagnats_telemetry_flush(tel, 10000));

    int pipefd[2];
    CHECK(pipe(pipefd) == 0, "pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dagnats_after_fork_child();
        char line[128] = "";
        dagnats_span *s = NULL;
        char trace[33] = "", id[17] = "";
        if (dagnats_tracer_start_span(tracer, "fork.child", DAGNATS_SPAN_KIND_INTERNAL, NULL, NULL, 0, &s) == DAGNATS_RESULT_OK) {
            dagnats_span_trace_id(s, trace, sizeof trace, NULL);
            dagnats_span_span_id(s, id, sizeof id, NULL);
            dagnats_span_end(&s);
            dagnats_result flushed = dagnats_telemetry_flush(tel, 10000);
            dagnats_result closed = dagnats_telemetry_close(tel, 10000);
            snprintf(line, sizeof line, "%s %s %u %u", trace, id, (unsigned)flushed, (unsigned)closed);
        }
        ssize_t w = write(pipefd[1], line, strlen(line) + 1);
        if (w <= 0) _exit(1);
        /* As in test_fork: end without a leak check of the parent's heap copy. */
        execlp("true", "true", (char *)NULL);
        _exit(0);
    }
    close(pipefd[1]);
    char line[128] = "";
    ssize_t got = read(pipefd[0], line, sizeof line - 1);
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(got > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: read %zd, status %d", got, status);
    char child_trace[33] = "", child_span[17] = "";
    unsigned flushed = 99, closed = 99;
    CHECK(sscanf(line, "%32s %16s %u %u", child_trace, child_span, &flushed, &closed) == 4, "child said %s", line);
    CHECK(flushed == DAGNATS_RESULT_OK, "flush in the child returned %u", flushed);
    CHECK(closed == DAGNATS_RESULT_OK, "close in the child returned %u", closed);
    CHECK(strcmp(child_trace, parent_trace) != 0, "child and parent drew the same trace id %s", child_trace);
    CHECK(strcmp(child_span, parent_span) != 0, "child and parent drew the same span id %s", child_span);

    /* The parent's telemetry is untouched by the child. */
    OK(dagnats_tracer_start_span(tracer, "fork.parent.after", DAGNATS_SPAN_KIND_INTERNAL, NULL, NULL, 0, &span));
    OK(dagnats_span_end(&span));
    OK(dagnats_telemetry_close(tel, 10000));
    uint64_t dropped = 0;
    OK(dagnats_telemetry_dropped(tel, &dropped));
    CHECK(dropped == 0, "the parent dropped %" PRIu64, dropped);
    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(tel));
    printf("E2E_FORK %s %s %s %s\n", parent_trace, parent_span, child_trace, child_span);
    end_case();
}

static void e2e(const char *url) {
    begin("e2e: parent and child in two services reach TELEMETRY");
    dagnats_connect_options *opts = NULL;
    dagnats_telemetry *engine = NULL, *worker = NULL;
    dagnats_tracer *et = NULL, *wt = NULL;
    dagnats_logger *wl = NULL;
    dagnats_counter *done = NULL;
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_connect_options_set_url(opts, url));
    OK(dagnats_connect_options_set_service(opts, "c-engine"));
    OK(dagnats_connect_options_set_connection_name(opts, "c-e2e-engine"));
    OK(dagnats_telemetry_connect(opts, &engine));
    OK(dagnats_connect_options_set_service(opts, "c-worker"));
    OK(dagnats_telemetry_connect(opts, &worker));
    dagnats_connect_options_free(opts);
    if (!engine || !worker) {
        end_case();
        return;
    }
    OK(dagnats_telemetry_tracer(engine, &et));
    OK(dagnats_telemetry_tracer(worker, &wt));
    OK(dagnats_telemetry_logger(worker, &wl));
    OK(dagnats_telemetry_counter(worker, "c.tasks.completed", &done));

    dagnats_attribute run[] = { { .key = "run_id", .value_type = DAGNATS_VALUE_STRING, .string_value = "c-e2e" } };
    dagnats_span *dispatch = NULL;
    OK(dagnats_tracer_start_span(et, "engine.dispatch", DAGNATS_SPAN_KIND_PRODUCER, NULL, run, 1, &dispatch));
    /* The message: headers and the event body, written together. */
    dagnats_header hs[2];
    char values[1024], event[1024];
    size_t count = 0;
    OK(dagnats_inject_headers(dagnats_span_context_of(dispatch), hs, 2, &count, values, sizeof values, NULL));
    OK(dagnats_inject_event(dagnats_span_context_of(dispatch), (const uint8_t *)"{\"run_id\":\"c-e2e\"}", 18, event, sizeof event, NULL));
    char trace_id[33], dispatch_id[17];
    OK(dagnats_span_trace_id(dispatch, trace_id, sizeof trace_id, NULL));
    OK(dagnats_span_span_id(dispatch, dispatch_id, sizeof dispatch_id, NULL));
    OK(dagnats_span_end(&dispatch));

    /* The receiving side. */
    dagnats_span_context *parent = NULL;
    OK(dagnats_extract_headers(hs, count, (const uint8_t *)event, strlen(event), &parent));
    CHECK(parent != NULL, "no parent extracted");
    dagnats_span *task = NULL;
    OK(dagnats_tracer_start_span(wt, "worker.executeTask", DAGNATS_SPAN_KIND_CONSUMER, parent, run, 1, &task));
    OK(dagnats_logger_log(wl, DAGNATS_LEVEL_INFO, "task started", dagnats_span_context_of(task), NULL, 0, NULL));
    OK(dagnats_counter_add(done, 1, NULL, 0));
    OK(dagnats_span_set_status(task, DAGNATS_STATUS_OK, NULL));
    OK(dagnats_span_end(&task));
    dagnats_span_context_free(parent);

    OK(dagnats_telemetry_flush(engine, 10000));
    OK(dagnats_telemetry_flush(worker, 10000));
    OK(dagnats_telemetry_close(engine, 10000));
    OK(dagnats_telemetry_close(worker, 10000));
    EXPECT_ERR(DAGNATS_RESULT_CLOSED, "shut down", dagnats_telemetry_close(worker, 100));
    OK(dagnats_telemetry_flush(worker, 100)); /* nothing pending */
    /* After close, records are dropped and counted. */
    OK(dagnats_tracer_start_span(wt, "after.close", 0, NULL, NULL, 0, &task));
    OK(dagnats_span_end(&task));
    uint64_t dropped = 0;
    OK(dagnats_telemetry_dropped(worker, &dropped));
    CHECK(dropped == 1, "dropped %" PRIu64 ", wanted 1", dropped);

    dagnats_counter_free(done);
    dagnats_logger_free(wl);
    dagnats_tracer_free(et);
    dagnats_tracer_free(wt);
    OK(dagnats_telemetry_free(engine));
    OK(dagnats_telemetry_free(worker));
    /* For the driver, which looks for both spans in the stream. */
    printf("E2E_TRACE %s %s\n", trace_id, dispatch_id);
    end_case();

    e2e_fork(url);

    /* A second server that requires a user and password ($NATS_AUTH_URL, started by the
       driver with --user c-user --pass c-secret). */
    const char *auth_url = getenv("NATS_AUTH_URL");
    begin("e2e: wrong credentials are NOT_CONNECTED, and the message hides the secret");
    CHECK(auth_url != NULL, "NATS_AUTH_URL is not set");
    if (auth_url) {
        dagnats_telemetry *t = NULL;
        OK(dagnats_connect_options_new(&opts));
        OK(dagnats_connect_options_set_url(opts, auth_url));
        OK(dagnats_connect_options_set_user_password(opts, "c-user", "wrong-secret"));
        EXPECT_ERR(DAGNATS_RESULT_NOT_CONNECTED, "authentication failed", dagnats_telemetry_connect(opts, &t));
        CHECK(strstr(last_error(), "wrong-secret") == NULL, "the password leaked: %s", last_error());
        CHECK(t == NULL, "no telemetry on failure");

        /* The right ones connect. */
        OK(dagnats_connect_options_set_user_password(opts, "c-user", "c-secret"));
        OK(dagnats_connect_options_set_service(opts, "c-auth"));
        OK(dagnats_telemetry_connect(opts, &t));
        OK(dagnats_telemetry_close(t, 5000));
        OK(dagnats_telemetry_free(t));
        dagnats_connect_options_free(opts);
    }
    end_case();
}

/* ------------------------------------------------------------------------------------ */
/* The engine's dialect against a real nats-server ($NATS_URL): tests/e2e/driver.rs reads
   the stored bodies back and hands them to the engine's strict reader
   (testkit/engine_strict_reader.py). */

/* Connects `service` (with set_format(format) unless format is NULL), then writes a span
   with every kind of attribute and a recorded error, and an error log inside it with
   fields that are not strings; flushes and closes. Prints `tag trace_id span_id`. */
static void engine_span_and_log(const char *url, const char *service, const char *format, const char *tag) {
    dagnats_connect_options *opts = NULL;
    dagnats_telemetry *tel = NULL;
    dagnats_tracer *tracer = NULL;
    dagnats_logger *logger = NULL;
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_connect_options_set_url(opts, url));
    OK(dagnats_connect_options_set_service(opts, service));
    if (format) OK(dagnats_connect_options_set_format(opts, format));
    OK(dagnats_telemetry_connect(opts, &tel));
    dagnats_connect_options_free(opts);
    if (!tel) return;
    OK(dagnats_telemetry_tracer(tel, &tracer));
    OK(dagnats_telemetry_logger(tel, &logger));
    dagnats_attribute attrs[] = {
        { .key = "run_id", .value_type = DAGNATS_VALUE_STRING, .string_value = "r-engine" },
        { .key = "attempt", .value_type = DAGNATS_VALUE_INT64, .int_value = 3 },
        { .key = "ratio", .value_type = DAGNATS_VALUE_DOUBLE, .double_value = 0.25 },
        { .key = "cached", .value_type = DAGNATS_VALUE_BOOL, .bool_value = true },
    };
    dagnats_attribute fields[] = {
        { .key = "attempt", .value_type = DAGNATS_VALUE_INT64, .int_value = 2 },
        { .key = "ratio", .value_type = DAGNATS_VALUE_DOUBLE, .double_value = 1.5 },
        { .key = "retry", .value_type = DAGNATS_VALUE_BOOL, .bool_value = true },
        { .key = "step", .value_type = DAGNATS_VALUE_STRING, .string_value = "build" },
    };
    dagnats_span *span = NULL;
    char trace_id[33] = "", span_id[17] = "";
    OK(dagnats_tracer_start_span(tracer, "engine.task", DAGNATS_SPAN_KIND_SERVER, NULL, attrs, 4, &span));
    OK(dagnats_span_trace_id(span, trace_id, sizeof trace_id, NULL));
    OK(dagnats_span_span_id(span, span_id, sizeof span_id, NULL));
    OK(dagnats_span_record_error(span, "disk full", "IOError"));
    OK(dagnats_logger_log(logger, DAGNATS_LEVEL_ERROR, "task failed", dagnats_span_context_of(span), fields, 4, NULL));
    OK(dagnats_span_end(&span));
    OK(dagnats_telemetry_flush(tel, 10000));
    OK(dagnats_telemetry_close(tel, 10000));
    uint64_t dropped = 0;
    OK(dagnats_telemetry_dropped(tel, &dropped));
    CHECK(dropped == 0, "dropped %" PRIu64, dropped);
    dagnats_logger_free(logger);
    dagnats_tracer_free(tracer);
    OK(dagnats_telemetry_free(tel));
    printf("%s %s %s\n", tag, trace_id, span_id);
}

static void e2e_engine_format(const char *url) {
    unsetenv("DAGNATS_TELEMETRY_FORMAT");
    begin("engine format: set_format(\"engine\"): a span with every kind of attribute and an error, and a log, reach TELEMETRY");
    engine_span_and_log(url, "c-engine-fmt", "engine", "E2E_ENGINE");
    end_case();

    begin("engine format: DAGNATS_TELEMETRY_FORMAT=engine without set_format");
    setenv("DAGNATS_TELEMETRY_FORMAT", "engine", 1);
    engine_span_and_log(url, "c-engine-env", NULL, "E2E_ENGINE_ENV");
    end_case();

    begin("engine format: set_format(\"records\") wins over DAGNATS_TELEMETRY_FORMAT=engine");
    engine_span_and_log(url, "c-records", "records", "E2E_RECORDS");
    unsetenv("DAGNATS_TELEMETRY_FORMAT");
    end_case();
}

/* ------------------------------------------------------------------------------------ */
/* One shared authentication/TLS case of testkit::auth, handed over by tests/e2e/driver.rs
   in the environment: the secured server (DAGNATS_AUTH_URL), the options it accepts
   (DAGNATS_AUTH_RIGHT_<KEY>) and refuses (DAGNATS_AUTH_WRONG_<KEY>), a word the refusal
   names (DAGNATS_AUTH_REFUSAL) and the secret no message may carry (DAGNATS_AUTH_SECRET).
   The driver reads the span back from that server's TELEMETRY. */

static const char *auth_env(const char *side, const char *key) {
    char name[96];
    snprintf(name, sizeof name, "DAGNATS_AUTH_%s_%s", side, key);
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Sets the connect options of one side (RIGHT or WRONG); returns how many were set. */
static int set_auth_options(dagnats_connect_options *opts, const char *side) {
    int n = 0;
    const char *user = auth_env(side, "USER"), *password = auth_env(side, "PASSWORD");
    const char *token = auth_env(side, "TOKEN"), *nkey = auth_env(side, "NKEY");
    const char *creds = auth_env(side, "CREDENTIALS_FILE");
    const char *tls_required = auth_env(side, "TLS_REQUIRED"), *ca = auth_env(side, "TLS_CA_FILE");
    if (user) {
        OK(dagnats_connect_options_set_user_password(opts, user, password ? password : ""));
        n++;
    }
    if (token) {
        OK(dagnats_connect_options_set_token(opts, token));
        n++;
    }
    if (nkey) {
        OK(dagnats_connect_options_set_nkey_seed(opts, nkey));
        n++;
    }
    if (creds) {
        OK(dagnats_connect_options_set_credentials_file(opts, creds));
        n++;
    }
    if (tls_required) {
        OK(dagnats_connect_options_set_tls_required(opts, strcmp(tls_required, "1") == 0));
        n++;
    }
    if (ca) {
        OK(dagnats_connect_options_set_tls_ca_file(opts, ca));
        n++;
    }
    return n;
}

static int auth_case(void) {
    const char *name = getenv("DAGNATS_AUTH_CASE"), *url = getenv("DAGNATS_AUTH_URL");
    const char *refusal = getenv("DAGNATS_AUTH_REFUSAL"), *secret = getenv("DAGNATS_AUTH_SECRET");
    if (!name || !url || !refusal || !secret || !*refusal || !*secret) {
        fprintf(stderr, "test_api --auth-case needs DAGNATS_AUTH_CASE, _URL, _REFUSAL and _SECRET\n");
        return 2;
    }
    char service[128], title[256];
    snprintf(service, sizeof service, "c-auth-%s", name);

    snprintf(title, sizeof title, "auth %s: the wrong options are NOT_CONNECTED, the message names \"%s\" and hides the secret", name, refusal);
    begin(title);
    dagnats_connect_options *opts = NULL;
    dagnats_telemetry *t = NULL;
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_connect_options_set_url(opts, url));
    OK(dagnats_connect_options_set_service(opts, service));
    CHECK(set_auth_options(opts, "WRONG") > 0, "no DAGNATS_AUTH_WRONG_* options");
    EXPECT_ERR(DAGNATS_RESULT_NOT_CONNECTED, refusal, dagnats_telemetry_connect(opts, &t));
    CHECK(strstr(last_error(), secret) == NULL, "the secret leaked: %s", last_error());
    CHECK(t == NULL, "no telemetry on failure");
    if (t) {
        dagnats_telemetry_close(t, 1000);
        dagnats_telemetry_free(t);
        t = NULL;
    }
    dagnats_connect_options_free(opts);
    end_case();

    snprintf(title, sizeof title, "auth %s: the right options connect, and a span is flushed and closed", name);
    begin(title);
    OK(dagnats_connect_options_new(&opts));
    OK(dagnats_connect_options_set_url(opts, url));
    OK(dagnats_connect_options_set_service(opts, service));
    CHECK(set_auth_options(opts, "RIGHT") > 0, "no DAGNATS_AUTH_RIGHT_* options");
    OK(dagnats_telemetry_connect(opts, &t));
    dagnats_connect_options_free(opts);
    if (t) {
        dagnats_tracer *tracer = NULL;
        dagnats_span *span = NULL;
        char trace_id[33] = "", span_id[17] = "";
        OK(dagnats_telemetry_tracer(t, &tracer));
        OK(dagnats_tracer_start_span(tracer, "auth.connected", DAGNATS_SPAN_KIND_CLIENT, NULL, NULL, 0, &span));
        OK(dagnats_span_trace_id(span, trace_id, sizeof trace_id, NULL));
        OK(dagnats_span_span_id(span, span_id, sizeof span_id, NULL));
        OK(dagnats_span_end(&span));
        OK(dagnats_telemetry_flush(t, 10000));
        OK(dagnats_telemetry_close(t, 10000));
        uint64_t dropped = 0;
        OK(dagnats_telemetry_dropped(t, &dropped));
        CHECK(dropped == 0, "dropped %" PRIu64 ", wanted 0", dropped);
        dagnats_tracer_free(tracer);
        OK(dagnats_telemetry_free(t));
        /* For the driver, which looks for the span on the secured server's TELEMETRY. */
        printf("E2E_AUTH_SPAN %s %s\n", trace_id, span_id);
    }
    end_case();
    return 0;
}

/* ------------------------------------------------------------------------------------ */

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--e2e") == 0) {
        const char *url = getenv("NATS_URL");
        if (!url || !*url) {
            fprintf(stderr, "test_api --e2e needs NATS_URL\n");
            return 2;
        }
        e2e(url);
    } else if (argc == 2 && strcmp(argv[1], "--engine-format") == 0) {
        const char *url = getenv("NATS_URL");
        if (!url || !*url) {
            fprintf(stderr, "test_api --engine-format needs NATS_URL\n");
            return 2;
        }
        e2e_engine_format(url);
    } else if (argc == 2 && strcmp(argv[1], "--auth-case") == 0) {
        int rc = auth_case();
        if (rc) return rc;
    } else if (argc == 2) {
        run_vectors(argv[1]);
        run_connection_vectors(argv[1]);
        run_carrier_vectors(argv[1]);
        test_connect_options_rules();
        test_format_option();
        test_span_lifecycle();
        test_parents();
        test_logs_and_metrics();
        test_event_dual_write();
        test_forwarding();
        test_baggage();
        test_threads();
        test_fork();
        test_null_arguments();
        test_invalid_utf8();
        test_invalid_arguments();
        test_small_buffers();
        test_double_free();
    } else {
        fprintf(stderr, "usage: test_api VECTORS_JSON | test_api --e2e | test_api --engine-format | test_api --auth-case\n");
        return 2;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
