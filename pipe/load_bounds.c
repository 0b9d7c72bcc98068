/*
 * load_bounds.c — the incremental read's bounds. interval_start and
 * interval_end come from the options; without interval_start the lower
 * bound is the destination's own MAX(key), read before the load and moved
 * only by the load's commit, so the cursor never passes uncommitted data.
 * Also: a bound text as a value of the key column's type (the
 * delete+insert window the sink deletes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "load_int.h"
#include "tds_ascii.h"

int pipe_load_bounds(pipe_load *l)
{
    const tdspipe_load_opts *o = l->o;
    pipe_plan *p = &l->plan;
    p->lo = o->interval_start;
    p->hi = o->interval_end;
    p->lo_strict = false;
    if (!o->incremental_key || p->lo || o->full_refresh || p->strategy == SINK_REPLACE)
        return 0;
    const char *kdest = o->incremental_key; /* renamed by --columns? */
    for (size_t i = 0; i < p->nspecs; i++)
        if (!tds_ascii_casecmp(p->specs[i].source, o->incremental_key))
            kdest = p->specs[i].name;
    char *kname = pipe_name_apply(p->naming, kdest);
    bool found = false;
    int rc = kname ? sink_max_value(l->sk, l->dest_table, kname, p->lo_buf, sizeof p->lo_buf, &found)
                   : SINK_E_NOMEM;
    free(kname);
    if (rc == SINK_OK && found) {
        p->lo = p->lo_buf;
        /* append would duplicate rows at the maximum: read past it; merge
         * and delete+insert re-read it safely */
        p->lo_strict = p->strategy == SINK_APPEND;
    } else if (rc != SINK_OK && rc != SINK_E_UNSUPPORTED) {
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "reading the incremental state: %s", sink_errmsg(l->sk));
    }
    return 0;
}

static int encode_number(const tds_column *c, const char *text, uint8_t *buf, size_t cap)
{
    char *end;
    switch (c->kind) {
    case TDS_K_TINYINT:
    case TDS_K_SMALLINT:
    case TDS_K_INT:
    case TDS_K_BIGINT: {
        long long x = strtoll(text, &end, 10);
        return *end ? -1 : tds_encode_int(c, x, buf, cap);
    }
    case TDS_K_REAL:
    case TDS_K_FLOAT: {
        double x = pipe__strtod_c(text, &end); /* whatever LC_NUMERIC says */
        return *end ? -1 : tds_encode_float(c, x, buf, cap);
    }
    default: { /* decimal, money */
        tds_decimal d;
        if (tds_decimal_parse(text, strlen(text), c->precision ? c->precision : 19,
                              c->kind == TDS_K_DECIMAL ? c->scale : 4, &d))
            return -1;
        return tds_encode_decimal(c, &d, buf, cap);
    }
    }
}

static int encode_time(const tds_column *c, const char *text, uint8_t *buf, size_t cap)
{
    char norm[64];
    bool ht, ho;
    bool dto = c->kind == TDS_K_DATETIMEOFFSET;
    if (pipe_datetime_norm(text, !dto, norm, sizeof norm, &ht, &ho))
        return -1;
    if (c->kind == TDS_K_DATE)
        norm[10] = '\0';
    else if (!ht)
        strcat(norm, " 00:00:00.0000000");
    if (dto && !ho)
        strcat(norm, " +00:00");
    tds_datetime d;
    if (tds_datetime_parse(norm, strlen(norm), (tds_kind)c->kind, c->scale, &d))
        return -1;
    return tds_encode_datetime(c, &d, buf, cap);
}

int pipe_bound_encode(const tds_column *c, const char *text, uint8_t *buf, size_t cap, tds_value *v)
{
    int n = -1;
    memset(v, 0, sizeof *v);
    switch (c->kind) {
    case TDS_K_TINYINT:
    case TDS_K_SMALLINT:
    case TDS_K_INT:
    case TDS_K_BIGINT:
    case TDS_K_REAL:
    case TDS_K_FLOAT:
    case TDS_K_DECIMAL:
    case TDS_K_MONEY:
    case TDS_K_SMALLMONEY:
        n = encode_number(c, text, buf, cap);
        break;
    case TDS_K_DATE:
    case TDS_K_DATETIME:
    case TDS_K_SMALLDATETIME:
    case TDS_K_DATETIME2:
    case TDS_K_DATETIMEOFFSET:
        n = encode_time(c, text, buf, cap);
        break;
    case TDS_K_CHAR:
    case TDS_K_NCHAR:
        n = tds_encode_text(c, text, strlen(text), buf, cap);
        break;
    default:
        return -1;
    }
    if (n < 0)
        return -1;
    v->ptr = buf;
    v->len = (uint32_t)n;
    return 0;
}
