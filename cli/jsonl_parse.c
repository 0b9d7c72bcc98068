/*
 * jsonl_parse.c — one JSONL line (a JSON object) into (key, field) pairs
 * with cJSON: strings as their UTF-8 text, integers exactly (below 2^53,
 * what a double holds exactly; larger ones are floats), other numbers in the
 * shortest text that reads back the same, true/false, null, and nested
 * objects/arrays as their compact JSON text (loaded as text).
 *
 * cJSON (libcjson.so.1) is loaded on first use with dlopen, as the
 * PostgreSQL and DuckDB sinks load theirs, so tdspipe stays a single file
 * that needs it only for JSONL. A fully static build has no JSONL source.
 *
 * Untrusted input (fuzz/fuzz_jsonl.c): cJSON bounds nesting
 * (CJSON_NESTING_LIMIT); every allocation is freed before returning.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TDSCLI_NO_DLOPEN
#include <dlfcn.h>
#endif
#include <cjson/cJSON.h>

#include "file_int.h"

typedef struct cjson_api {
    cJSON *(*parse)(const char *, size_t, const char **, cJSON_bool);
    void (*del)(cJSON *);
    char *(*print)(const cJSON *);
    void (*free_)(void *);
} cjson_api;

static const cjson_api *api(char *why, size_t whycap)
{
#ifdef TDSCLI_NO_DLOPEN
    snprintf(why, whycap, "this tdspipe is fully static and reads no JSONL (use the default build)");
    return NULL;
#else
    static cjson_api a;
    static int state; /* 0 untried, 1 loaded, -1 missing */
    if (state == 0) {
        void *h = dlopen("libcjson.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h)
            h = dlopen("libcjson.so", RTLD_NOW | RTLD_LOCAL);
        if (h) {
            *(void **)&a.parse = dlsym(h, "cJSON_ParseWithLengthOpts");
            *(void **)&a.del = dlsym(h, "cJSON_Delete");
            *(void **)&a.print = dlsym(h, "cJSON_PrintUnformatted");
            *(void **)&a.free_ = dlsym(h, "cJSON_free");
        }
        state = h && a.parse && a.del && a.print && a.free_ ? 1 : -1;
    }
    if (state < 0) {
        snprintf(why, whycap, "JSONL sources need libcjson.so.1 (Debian/Ubuntu: apt install libcjson1)");
        return NULL;
    }
    return &a;
#endif
}

/* cJSON's type bits (its cJSON_Is* functions, without loading them) */
static int jtype(const cJSON *m) { return m->type & 0xFF; }

int cli_jsonl_record(const char *line, size_t len, cli_jsonl_fn fn, void *ud, char *why, size_t whycap)
{
    const cjson_api *cj = api(why, whycap);
    if (!cj)
        return -1;
    const char *end = NULL;
    cJSON *root = cj->parse(line, len, &end, false);
    if (!root) {
        snprintf(why, whycap, "invalid JSON");
        return -1;
    }
    /* only blanks may follow the object */
    for (const char *p = end; p && p < line + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cj->del(root);
            snprintf(why, whycap, "text after the JSON object");
            return -1;
        }
    if (jtype(root) != cJSON_Object) {
        cj->del(root);
        snprintf(why, whycap, "the line is not a JSON object");
        return -1;
    }
    int rc = 0;
    for (cJSON *m = root->child; m && !rc; m = m->next) {
        cli_fv v = {0};
        char num[40];
        char *json = NULL;
        if (!m->string) {
            rc = -1;
            snprintf(why, whycap, "a member without a name");
            break;
        }
        switch (jtype(m)) {
        case cJSON_NULL:
            v.kind = CLI_FV_NULL;
            break;
        case cJSON_True:
        case cJSON_False:
            v.kind = CLI_FV_BOOL;
            v.p = jtype(m) == cJSON_True ? "true" : "false";
            v.len = strlen(v.p);
            break;
        case cJSON_Number: {
            double d = m->valuedouble;
            if (d == floor(d) && fabs(d) < 9007199254740992.0) {
                snprintf(num, sizeof num, "%.0f", d);
                v.kind = CLI_FV_INT;
            } else {
                snprintf(num, sizeof num, "%.17g", d);
                /* the shortest form that reads back the same */
                for (int prec = 1; prec < 17; prec++) {
                    char t[40];
                    snprintf(t, sizeof t, "%.*g", prec, d);
                    if (strtod(t, NULL) == d) {
                        memcpy(num, t, sizeof t);
                        break;
                    }
                }
                v.kind = CLI_FV_FLOAT;
            }
            v.p = num;
            v.len = strlen(num);
            break;
        }
        case cJSON_String:
            v.kind = CLI_FV_TEXT;
            v.p = m->valuestring ? m->valuestring : "";
            v.len = strlen(v.p);
            break;
        default: /* objects, arrays (raw values cannot come from parsing) */
            json = cj->print(m);
            if (!json) {
                snprintf(why, whycap, "out of memory");
                rc = -1;
                break;
            }
            v.kind = CLI_FV_JSON;
            v.p = json;
            v.len = strlen(json);
            break;
        }
        if (!rc)
            rc = fn(ud, m->string, &v);
        if (json)
            cj->free_(json);
    }
    cj->del(root);
    return rc;
}
