/*
 * jsonl_parse.c — one JSONL line (a JSON object) into (key, field) pairs
 * with cJSON: strings as their UTF-8 text, integers exactly (below 2^53,
 * what a double holds exactly; larger ones are floats), other numbers in the
 * shortest text that reads back the same, true/false, null, and nested
 * objects/arrays as their compact JSON text (loaded as text).
 *
 * cJSON (libcjson.so.1) is loaded on first use by net/json_load.c, the
 * library's one loader (thread-safe, once per process), so tdspipe stays a
 * single file that needs it only for JSONL. A fully static build has no
 * JSONL source.
 * Number text is made in the "C" locale (file_num.c); cJSON itself reads
 * numbers with the locale's decimal point swapped in, so it is safe too.
 *
 * Untrusted input (fuzz/fuzz_jsonl.c): cJSON bounds nesting
 * (CJSON_NESTING_LIMIT); every allocation is freed before returning.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_int.h"
#include "json_load.h" /* net/: the library's one cJSON loader */

typedef net_json_api cjson_api;

static const cjson_api *api(char *why, size_t whycap)
{
    const cjson_api *cj;
    switch (net_json_load(&cj)) {
    case NET_JSON_OK:
        return cj;
    case NET_JSON_STATIC:
        snprintf(why, whycap, "this tdspipe is fully static and reads no JSONL (use the default build)");
        return NULL;
    default:
        snprintf(why, whycap, "JSONL sources need libcjson.so.1 (Debian/Ubuntu: apt install libcjson1)");
        return NULL;
    }
}

/* cJSON's type bits (its cJSON_Is* functions, without loading them) */
static int jtype(const cJSON *m) { return m->type & 0xFF; }

/* A number as text in num (40 bytes): integers exactly, others in the
 * shortest form that reads back the same. */
static void number_text(double d, char *num, pipe_fv *v)
{
    if (d == floor(d) && fabs(d) < 9007199254740992.0) {
        pipe__snprintf_c(num, 40, "%.0f", d);
        v->kind = PIPE_FV_INT;
    } else {
        pipe__snprintf_c(num, 40, "%.17g", d);
        for (int prec = 1; prec < 17; prec++) {
            char t[40];
            pipe__snprintf_c(t, sizeof t, "%.*g", prec, d);
            if (pipe__strtod_c(t, NULL) == d) {
                memcpy(num, t, sizeof t);
                break;
            }
        }
        v->kind = PIPE_FV_FLOAT;
    }
    v->p = num;
    v->len = strlen(num);
}

/* One member's field; *json is cJSON's text of an object or array, to be
 * freed by the caller. Returns 0 or -1 with why. */
static int member_field(const cjson_api *cj, const cJSON *m, char *num, pipe_fv *v, char **json, char *why,
                        size_t whycap)
{
    switch (jtype(m)) {
    case cJSON_NULL:
        v->kind = PIPE_FV_NULL;
        return 0;
    case cJSON_True:
    case cJSON_False:
        v->kind = PIPE_FV_BOOL;
        v->p = jtype(m) == cJSON_True ? "true" : "false";
        v->len = strlen(v->p);
        return 0;
    case cJSON_Number:
        number_text(m->valuedouble, num, v);
        return 0;
    case cJSON_String:
        v->kind = PIPE_FV_TEXT;
        v->p = m->valuestring ? m->valuestring : "";
        v->len = strlen(v->p);
        return 0;
    default: /* objects, arrays (raw values cannot come from parsing) */
        if (!(*json = cj->print(m))) {
            snprintf(why, whycap, "out of memory");
            return -1;
        }
        v->kind = PIPE_FV_JSON;
        v->p = *json;
        v->len = strlen(*json);
        return 0;
    }
}

/* Parses the line; NULL with why unless it is one object and blanks. */
static cJSON *parse_object(const cjson_api *cj, const char *line, size_t len, char *why, size_t whycap)
{
    const char *end = NULL;
    cJSON *root = cj->parse(line, len, &end, false);
    if (!root) {
        snprintf(why, whycap, "invalid JSON");
        return NULL;
    }
    /* only blanks may follow the object */
    for (const char *p = end; p && p < line + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cj->del(root);
            snprintf(why, whycap, "text after the JSON object");
            return NULL;
        }
    if (jtype(root) != cJSON_Object) {
        cj->del(root);
        snprintf(why, whycap, "the line is not a JSON object");
        return NULL;
    }
    return root;
}

int pipe_jsonl_record(const char *line, size_t len, pipe_jsonl_fn fn, void *ud, char *why, size_t whycap)
{
    const cjson_api *cj = api(why, whycap);
    if (!cj)
        return -1;
    cJSON *root = parse_object(cj, line, len, why, whycap);
    if (!root)
        return -1;
    int rc = 0;
    for (cJSON *m = root->child; m && !rc; m = m->next) {
        pipe_fv v = {0};
        char num[40];
        char *json = NULL;
        if (!m->string) {
            snprintf(why, whycap, "a member without a name");
            rc = -1;
            break;
        }
        rc = member_field(cj, m, num, &v, &json, why, whycap);
        if (!rc)
            rc = fn(ud, m->string, &v);
        if (json)
            cj->free_(json);
    }
    cj->del(root);
    return rc;
}
