/* A tiny recursive-descent JSON reader; see json.h. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p;
    char *err;
    size_t err_len;
    int depth;
} parser;

static int fail(parser *ps, const char *what) {
    if (ps->err && ps->err_len) {
        snprintf(ps->err, ps->err_len, "%s near \"%.20s\"", what, ps->p);
    }
    return -1;
}

static void skip_ws(parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') {
        ps->p++;
    }
}

static int hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* At the opening quote; decodes into a new buffer. */
static int parse_string(parser *ps, char **out) {
    const char *s = ps->p + 1;
    const char *end = s;
    while (*end && *end != '"') {
        if (*end == '\\' && end[1]) end++;
        end++;
    }
    if (*end != '"') return fail(ps, "unterminated string");
    /* Decoded text is never longer than its source. */
    char *buf = malloc((size_t)(end - s) + 1);
    if (!buf) return fail(ps, "out of memory");
    size_t n = 0;
    while (*s != '"') {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20) { free(buf); ps->p = s; return fail(ps, "control character in string"); }
        if (c != '\\') { buf[n++] = (char)c; s++; continue; }
        s++;
        switch (*s) {
        case '"': buf[n++] = '"'; s++; break;
        case '\\': buf[n++] = '\\'; s++; break;
        case '/': buf[n++] = '/'; s++; break;
        case 'b': buf[n++] = '\b'; s++; break;
        case 'f': buf[n++] = '\f'; s++; break;
        case 'n': buf[n++] = '\n'; s++; break;
        case 'r': buf[n++] = '\r'; s++; break;
        case 't': buf[n++] = '\t'; s++; break;
        case 'u': {
            unsigned cp;
            if (hex4(s + 1, &cp)) { free(buf); ps->p = s; return fail(ps, "bad \\u escape"); }
            s += 5;
            if (cp >= 0xD800 && cp < 0xDC00 && s[0] == '\\' && s[1] == 'u') {
                unsigned lo;
                if (!hex4(s + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    s += 6;
                }
            }
            if (cp == 0) { free(buf); ps->p = s; return fail(ps, "\\u0000 is not supported"); }
            n += put_utf8(buf + n, cp);
            break;
        }
        default:
            free(buf);
            ps->p = s;
            return fail(ps, "bad escape");
        }
    }
    buf[n] = '\0';
    ps->p = s + 1;
    *out = buf;
    return 0;
}

static int parse_value(parser *ps, json_value *v);

static int grow(json_value *v, size_t *cap, int with_keys) {
    if (v->len < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    json_value *items = realloc(v->items, ncap * sizeof *items);
    if (!items) return -1;
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, ncap * sizeof *keys);
        if (!keys) return -1;
        v->keys = keys;
    }
    *cap = ncap;
    return 0;
}

static int parse_value(parser *ps, json_value *v) {
    memset(v, 0, sizeof *v);
    skip_ws(ps);
    v->raw = ps->p;
    if (++ps->depth > 64) return fail(ps, "nested too deeply");
    int rc = 0;
    switch (*ps->p) {
    case '{': {
        size_t cap = 0;
        v->type = JSON_OBJECT;
        ps->p++;
        skip_ws(ps);
        if (*ps->p == '}') { ps->p++; break; }
        for (;;) {
            skip_ws(ps);
            if (*ps->p != '"') { rc = fail(ps, "expected a member name"); break; }
            char *key;
            if ((rc = parse_string(ps, &key))) break;
            skip_ws(ps);
            if (*ps->p != ':') { free(key); rc = fail(ps, "expected ':'"); break; }
            ps->p++;
            if (grow(v, &cap, 1)) { free(key); rc = fail(ps, "out of memory"); break; }
            v->keys[v->len] = key;
            if ((rc = parse_value(ps, &v->items[v->len]))) {
                json_free(&v->items[v->len]);
                free(key);
                break;
            }
            v->len++;
            skip_ws(ps);
            if (*ps->p == ',') { ps->p++; continue; }
            if (*ps->p == '}') { ps->p++; break; }
            rc = fail(ps, "expected ',' or '}'");
            break;
        }
        break;
    }
    case '[': {
        size_t cap = 0;
        v->type = JSON_ARRAY;
        ps->p++;
        skip_ws(ps);
        if (*ps->p == ']') { ps->p++; break; }
        for (;;) {
            if (grow(v, &cap, 0)) { rc = fail(ps, "out of memory"); break; }
            if ((rc = parse_value(ps, &v->items[v->len]))) {
                json_free(&v->items[v->len]);
                break;
            }
            v->len++;
            skip_ws(ps);
            if (*ps->p == ',') { ps->p++; continue; }
            if (*ps->p == ']') { ps->p++; break; }
            rc = fail(ps, "expected ',' or ']'");
            break;
        }
        break;
    }
    case '"':
        v->type = JSON_STRING;
        rc = parse_string(ps, &v->string);
        break;
    case 't':
        if (strncmp(ps->p, "true", 4)) { rc = fail(ps, "bad literal"); break; }
        v->type = JSON_BOOL; v->boolean = 1; ps->p += 4;
        break;
    case 'f':
        if (strncmp(ps->p, "false", 5)) { rc = fail(ps, "bad literal"); break; }
        v->type = JSON_BOOL; ps->p += 5;
        break;
    case 'n':
        if (strncmp(ps->p, "null", 4)) { rc = fail(ps, "bad literal"); break; }
        v->type = JSON_NULL; ps->p += 4;
        break;
    default: {
        char *end;
        v->type = JSON_NUMBER;
        v->number = strtod(ps->p, &end);
        if (end == ps->p) { rc = fail(ps, "unexpected character"); break; }
        ps->p = end;
    }
    }
    ps->depth--;
    v->raw_len = (size_t)(ps->p - v->raw);
    return rc;
}

int json_parse(const char *text, json_value *out, char *err, size_t err_len) {
    parser ps = { text, err, err_len, 0 };
    if (parse_value(&ps, out)) {
        json_free(out);
        return -1;
    }
    skip_ws(&ps);
    if (*ps.p) {
        json_free(out);
        return fail(&ps, "trailing characters");
    }
    return 0;
}

void json_free(json_value *v) {
    if (!v) return;
    for (size_t i = 0; i < v->len; i++) {
        json_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    free(v->owned_source);
    memset(v, 0, sizeof *v);
}

const json_value *json_get(const json_value *object, const char *key) {
    if (!object || object->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < object->len; i++) {
        if (strcmp(object->keys[i], key) == 0) return &object->items[i];
    }
    return NULL;
}

const char *json_get_string(const json_value *object, const char *key) {
    const json_value *v = json_get(object, key);
    return v && v->type == JSON_STRING ? v->string : NULL;
}

char *json_read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END)) { fclose(f); return NULL; }
    long size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET)) { fclose(f); return NULL; }
    char *buf = malloc((size_t)size + 1);
    if (!buf) { fclose(f); return NULL; }
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    buf[got] = '\0';
    return buf;
}
