/*
 * json_load.h — the library's one cJSON loader (libcjson.so.1, dlopen at
 * run time). Users: pipe/jsonl_parse.c (JSONL sources) and
 * net/entra/entra_reply.c (identity-provider replies). The header of cJSON
 * is needed at build time only; the binary needs the library only when one
 * of those paths runs.
 */
#ifndef TDSPIPE_NET_JSON_LOAD_H
#define TDSPIPE_NET_JSON_LOAD_H

#include <cjson/cJSON.h>

/* The cJSON functions tdspipe uses. Trees are walked through the cJSON
 * struct itself (child/next/type/string/valuestring/valuedouble). */
typedef struct net_json_api {
    cJSON *(*parse)(const char *, size_t, const char **, cJSON_bool); /* cJSON_ParseWithLengthOpts */
    void (*del)(cJSON *);
    char *(*print)(const cJSON *);                                     /* cJSON_PrintUnformatted */
    void (*free_)(void *);
} net_json_api;

enum {
    NET_JSON_OK = 0,
    NET_JSON_MISSING = -1, /* libcjson.so.1 not found (or lacks a function) */
    NET_JSON_STATIC = -2,  /* a fully static build: nothing can be loaded */
};

/* Loads cJSON once per process (pthread_once: any thread may call this).
 * Returns NET_JSON_OK with *out set, or NET_JSON_MISSING / NET_JSON_STATIC
 * (callers word the message: they know which feature needs it). */
int net_json_load(const net_json_api **out);

/* cJSON's type bits, as its cJSON_Is* functions test them. */
static inline int net_json_type(const cJSON *j) { return j->type & 0xFF; }

#endif
