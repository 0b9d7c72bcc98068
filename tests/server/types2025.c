/*
 * types2025.c — SQL Server 2025's json (0xF4) and vector (0xF5) types in
 * tdstestd: what the login negotiated, per connection; the type names
 * ("json", "vector(n)", "vector(n, float16)"); the generator rules; wire
 * ↔ value conversion (INSERT BULK and INSERT … VALUES store them); and the
 * text fallback for a client that did not ask for JSONSUPPORT /
 * VECTORSUPPORT: json goes out as nvarchar(max), vector as varchar(max)
 * holding the JSON array, as SQL Server sends them (issue 18).
 *
 * Generator (tests/cli/types2025_check.py models it): x = start + i * step
 * as for every type;
 *   json:  {"i":x,"s":"<prefix>x","a":[x,-x,null],"ok":true|false (x even),"u":"é€"}
 *   vector(n[, float16]): element j = ((x * 31 + j * 7) mod 2001 - 1000) / 8,
 *          exact in float32 and float16 (|v| <= 125, multiples of 1/8).
 * Stored values are the wire bytes of the column's type (UTF-8 for json,
 * header + elements for vector).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "exec_select_int.h"
#include "query_int.h"

void srv_conn_set_types2025(srv_conn *c, uint8_t json_ver, uint8_t vector_ver)
{
    c->json_ver = json_ver;
    c->vector_ver = vector_ver;
}

/* Does the server know json and vector? SQL Server 2025 (version 17) and
 * later; a scenario's "server": {"version": "16…"} (the default) plays an
 * older server, whose CREATE TABLE and CAST refuse the names. */
bool srv_t25_known(const srv_conn *c)
{
    return (c->db->settings.version >> 24) >= 17;
}

/* CREATE TABLE on an older server: error 2715 for a json/vector column. */
int srv_t25_refuse_defs(srv_cursor *cur, tds_session *s, const srv_coldef *defs, int n)
{
    if (srv_t25_known(cur->c))
        return 0;
    for (int i = 0; i < n; i++)
        if (defs[i].col.kind == TDS_K_JSON || defs[i].col.kind == TDS_K_VECTOR) {
            srv_put_error(cur, s, 2715, 16, 6, "Column, parameter, or variable #%d: Cannot find data type %s.",
                          i + 1, defs[i].type_name);
            return -1;
        }
    return 0;
}

/* "json" / "vector(n)" / "vector(n, float16|float32)". 1 when the text
 * names one of them (d filled), 0 when not, -1 when invalid. */
int srv_t25_type_parse(const char *text, srv_coldef *d)
{
    while (*text == ' ')
        text++;
    memset(&d->col, 0, sizeof d->col);
    if (strncasecmp(text, "json", 4) == 0 && text[4 + strspn(text + 4, " ")] == 0) {
        if (tds_column_init(&d->col, TDS_T_JSON, 0, 0, 0) != TDS_OK)
            return -1;
        snprintf(d->type_name, sizeof d->type_name, "json");
        d->max_length = -1;
        d->char_len = -1;
    } else if (strncasecmp(text, "vector", 6) == 0 && !isalnum((unsigned char)text[6])) {
        const char *p = text + 6 + strspn(text + 6, " ");
        char *end;
        if (*p != '(')
            return -1;
        long n = strtol(p + 1, &end, 10);
        p = end + strspn(end, " ");
        uint8_t elem = TDS_VEC_FLOAT32;
        if (*p == ',') {
            p += 1 + strspn(p + 1, " ");
            if (strncasecmp(p, "float16", 7) == 0)
                elem = TDS_VEC_FLOAT16;
            else if (strncasecmp(p, "float32", 7) != 0)
                return -1;
            p += 7 + strspn(p + 7, " ");
        }
        if (*p != ')' || p[1 + strspn(p + 1, " ")] != 0)
            return -1;
        long maxd = elem == TDS_VEC_FLOAT16 ? 3996 : 1998;
        if (n < 1 || n > maxd)
            return -1;
        uint32_t ml = TDS_VECTOR_HEADER + (uint32_t)n * tds_vector_elem_size(elem);
        if (tds_column_init(&d->col, TDS_T_VECTOR, ml, 0, elem) != TDS_OK)
            return -1;
        snprintf(d->type_name, sizeof d->type_name, "vector");
        d->max_length = (int32_t)ml;
        d->char_len = (int32_t)n;
    } else {
        return 0;
    }
    d->col.flags = TDS_COL_NULLABLE;
    d->nullable = true;
    srv_coldef_fix(d);
    return 1;
}

size_t srv_t25_gen_cap(const srv_coldef *d)
{
    return d->col.kind == TDS_K_VECTOR ? TDS_VECTOR_MAX_BYTES + 64 : 512 + sizeof d->gen.prefix;
}

static float vec_elem(int64_t x, uint32_t j)
{
    int64_t k = (x * 31 + (int64_t)j * 7) % 2001;
    if (k < 0)
        k += 2001;
    return (float)(k - 1000) / 8.0f;
}

uint32_t srv_t25_gen(const srv_coldef *d, int64_t x, uint8_t *out, size_t cap)
{
    if (d->col.kind == TDS_K_VECTOR) {
        float vals[TDS_VECTOR_MAX_BYTES / 2];
        for (uint32_t j = 0; j < d->col.vector_dims; j++)
            vals[j] = vec_elem(x, j);
        int n = tds_encode_vector(&d->col, vals, d->col.vector_dims, out, cap);
        return n < 0 ? SRV_NULL_LEN : (uint32_t)n;
    }
    char prefix[SRV_NAME_MAX + 2];
    if (d->gen.has_prefix)
        snprintf(prefix, sizeof prefix, "%s", d->gen.prefix);
    else
        snprintf(prefix, sizeof prefix, "%.60s-", d->name);
    int n = snprintf((char *)out, cap,
                     "{\"i\":%lld,\"s\":\"%s%lld\",\"a\":[%lld,%lld,null],\"ok\":%s,\"u\":\"\xC3\xA9\xE2\x82\xAC\"}",
                     (long long)x, prefix, (long long)x, (long long)x, -(long long)x,
                     x % 2 == 0 ? "true" : "false");
    return n < 0 || (size_t)n >= cap ? SRV_NULL_LEN : (uint32_t)n;
}

/* Wire bytes of a json/vector column → a value: json a UTF-8 string; a
 * vector its wire bytes (SV_BIN, no copy: its JSON text can be 8 times
 * longer than the bytes, beyond the scratch callers size by length). */
int srv_t25_from_wire(const tds_column *c, const uint8_t *p, uint32_t len, srv_val *v,
                      char *scratch, size_t cap)
{
    if (c->kind == TDS_K_JSON) {
        if (len >= cap)
            return -1;
        memcpy(scratch, p, len);
        scratch[len] = 0;
        v->k = SV_STR; v->s = scratch; v->n = len;
        return 0;
    }
    if (tds_vector_check(p, len, c->vector_elem, c->vector_dims, NULL))
        return -1;
    v->k = SV_BIN; v->s = (const char *)p; v->n = len;
    return 0;
}

/* A value into a json/vector column, as SQL Server converts text: json
 * must be valid JSON text (error 13609), a vector a JSON array of numbers with the column's count
 * (error 42204 for a count mismatch, 13670 for anything else: NaN and
 * infinities cannot be written in JSON, so they are refused). */
int64_t srv_t25_to_wire(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap)
{
    if (v->k == SV_BIN && d->col.kind == TDS_K_VECTOR) { /* a vector's own bytes */
        const uint8_t *p = (const uint8_t *)v->s;
        if (v->n >= TDS_VECTOR_HEADER && (uint16_t)(p[2] | (p[3] << 8)) != d->col.vector_dims)
            return -42204;
        if (tds_vector_check(p, v->n, d->col.vector_elem, d->col.vector_dims, NULL))
            return -42238; /* another base type */
        if (v->n > cap)
            return -2628;
        memcpy(out, p, v->n);
        return (int64_t)v->n;
    }
    if (v->k != SV_STR)
        return -245;
    if (d->col.kind == TDS_K_JSON) {
        cJSON *doc = cJSON_ParseWithLength(v->s, v->n); /* SQL Server validates json */
        if (!doc)
            return -13609;
        cJSON_Delete(doc);
        if (v->n > cap)
            return -2628;
        memcpy(out, v->s, v->n);
        return (int64_t)v->n;
    }
    float vals[TDS_VECTOR_MAX_BYTES / 2];
    uint32_t n;
    int rc = tds_vector_parse(v->s, v->n, vals, TDS_VECTOR_MAX_BYTES / 2, &n);
    if (rc == TDS_E_SPACE || (rc == TDS_OK && n != d->col.vector_dims))
        return -42204;
    if (rc)
        return -13670;
    int len = tds_encode_vector(&d->col, vals, n, out, cap);
    return len < 0 ? -13670 : len;
}

/* SQL Server refuses json (0xF4) in bulk load metadata even when
 * JSONSUPPORT was negotiated ("Invalid column type from bcp client";
 * tedious PR #1683, SqlBulkCopy and mssql-rs send a (max) string type).
 * The 1-based colid of the first such column, or 0. */
int srv_t25_bulk_bad_col(const tds_column *cols, uint16_t n)
{
    for (uint16_t i = 0; i < n; i++)
        if (cols[i].type == TDS_T_JSON)
            return i + 1;
    return 0;
}

/* ---------------------------------------------- text for old clients */

typedef struct t25 {
    int n;
    uint8_t *how;      /* per output column: 0 as is, 1 json → nvarchar(max), 2 vector → varchar(max) */
    tds_column *orig;  /* the columns as stored */
    char **text;       /* vector text per column */
} t25;

static bool downgraded(const srv_conn *c, const tds_column *col, uint8_t *how)
{
    *how = 0;
    if (col->kind == TDS_K_JSON && !c->json_ver)
        *how = 1;
    else if (col->kind == TDS_K_VECTOR &&
             (!c->vector_ver || (col->vector_elem == TDS_VEC_FLOAT16 && c->vector_ver < 2)))
        *how = 2;
    return *how != 0;
}

/* Before COLMETADATA: json/vector columns the connection did not
 * negotiate become nvarchar(max) / varchar(max). Returns -1 when out of
 * memory. */
int srv_t25_prepare(srv_rs *rs, const srv_conn *c)
{
    uint8_t how;
    bool any = false;
    for (int i = 0; i < rs->nout; i++)
        any |= downgraded(c, &rs->ocols[i], &how);
    if (!any || rs->t25)
        return 0;
    t25 *t = calloc(1, sizeof *t);
    if (!t || !(t->how = calloc((size_t)rs->nout, 1)) ||
        !(t->orig = calloc((size_t)rs->nout, sizeof *t->orig)) ||
        !(t->text = calloc((size_t)rs->nout, sizeof *t->text))) {
        srv_t25_free(t);
        return -1;
    }
    rs->t25 = t;
    t->n = rs->nout;
    for (int i = 0; i < rs->nout; i++) {
        tds_column *col = &rs->ocols[i];
        if (!downgraded(c, col, &t->how[i]))
            continue;
        t->orig[i] = *col;
        if (t->how[i] == 2 && !(t->text[i] = malloc(3996 * 24 + 8)))
            return -1;
        tds_column nc;
        tds_column_init(&nc, t->how[i] == 1 ? TDS_T_NVARCHAR : TDS_T_BIGVARCHR, 0xFFFF, 0, 0);
        nc.name = col->name;
        nc.flags = col->flags;
        nc.ordinal = col->ordinal;
        *col = nc;
    }
    return 0;
}

bool srv_t25_active(const srv_rs *rs) { return rs->t25 != NULL; }

/* One row's values for the text fallback: json's UTF-8 transcoded by the
 * encoder (nvarchar), a vector printed as its JSON array. */
int srv_t25_row(srv_rs *rs, tds_value *vals)
{
    t25 *t = rs->t25;
    if (!t)
        return 0;
    for (int i = 0; i < rs->nout; i++) {
        tds_value *v = &vals[i];
        if (!t->how[i] || (v->flags & TDS_VF_NULL))
            continue;
        if (t->how[i] == 2) {
            size_t n;
            if (tds_value_text(&t->orig[i], v, t->text[i], 3996 * 24 + 8, &n) != TDS_OK)
                return -1;
            v->ptr = (const uint8_t *)t->text[i];
            v->len = (uint32_t)n;
        }
        v->flags |= TDS_VF_UTF8;
    }
    return 0;
}

void srv_t25_free(void *p)
{
    t25 *t = p;
    if (!t)
        return;
    for (int i = 0; t->text && i < t->n; i++)
        free(t->text[i]);
    free(t->how);
    free(t->orig);
    free(t->text);
    free(t);
}
