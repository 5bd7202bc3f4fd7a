/*
 * A tiny JSON reader for the C tests: enough to read testdata/trace-context-vectors.json
 * and the records the library writes. Strings are decoded to NUL-terminated UTF-8
 * (\u0000 is rejected); every value also keeps its source text (`raw`, `raw_len`).
 */
#ifndef DAGNATS_TEST_JSON_H
#define DAGNATS_TEST_JSON_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    int boolean;                /* JSON_BOOL */
    double number;              /* JSON_NUMBER */
    char *string;               /* JSON_STRING: decoded, NUL-terminated */
    struct json_value *items;   /* JSON_ARRAY elements, JSON_OBJECT member values */
    char **keys;                /* JSON_OBJECT member names, decoded */
    size_t len;                 /* number of elements or members */
    const char *raw;            /* the value's text in the source */
    size_t raw_len;
    char *owned_source;         /* freed by json_free when set (the caller may set it on
                                   the root to tie the source's lifetime to the tree) */
} json_value;

/* Parses `text` (NUL-terminated) into `*out`. Returns 0, or -1 with a message in `err`. */
int json_parse(const char *text, json_value *out, char *err, size_t err_len);

/* Frees what json_parse allocated inside `v` (not `v` itself). */
void json_free(json_value *v);

/* The member `key` of an object, or NULL. */
const json_value *json_get(const json_value *object, const char *key);

/* The string of member `key`, or NULL when it is absent or not a string. */
const char *json_get_string(const json_value *object, const char *key);

/* Reads a whole file into a NUL-terminated malloc'd buffer, or NULL. */
char *json_read_file(const char *path);

#endif
