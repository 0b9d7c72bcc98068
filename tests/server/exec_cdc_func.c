/*
 * exec_cdc_func.c — the sys.fn_cdc_* scalar functions: get_max_lsn,
 * get_min_lsn, increment_lsn, decrement_lsn, map_lsn_to_time,
 * map_time_to_lsn, is_bit_set, get_column_ordinal, has_column_changed.
 *
 * An LSN is binary(10); increment/decrement add or subtract one from it as
 * an 80-bit number. Max LSN is the highest cdc.lsn_time_mapping start_lsn
 * (what the capture process has processed, not what was committed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_int.h"

#define FAILF(num, ...) do { *err = (num); snprintf(msg, msgcap, __VA_ARGS__); *rc = -1; return 1; } while (0)

static void bin_out(srv_val *out, char *buf, size_t cap, const uint8_t *p, size_t n)
{
    if (n > cap)
        n = cap;
    memcpy(buf, p, n);
    *out = (srv_val){ .k = SV_BIN, .s = buf, .n = n };
}

static bool name_is(const sql_expr *e, const char *f)
{
    return srv_ieq(e->parts[0], f) && (!e->parts[1][0] || srv_ieq(e->parts[1], "sys"));
}

static void name_arg(const srv_val *a, char *out, size_t cap)
{
    if (a->k == SV_STR)
        snprintf(out, cap, "%.*s", (int)a->n, a->s);
    else
        out[0] = 0;
}

/* An LSN argument as 10 bytes (shorter binaries are zero-extended on the
 * right, as binary(10) conversion pads). false for NULL or not binary. */
static bool lsn_arg(const srv_val *a, uint8_t *lsn)
{
    if (a->k != SV_BIN)
        return false;
    memset(lsn, 0, CDC_LSN_LEN);
    memcpy(lsn, a->s, a->n < CDC_LSN_LEN ? a->n : CDC_LSN_LEN);
    return true;
}

static void lsn_add(uint8_t *lsn, int delta)
{
    for (int i = CDC_LSN_LEN - 1; i >= 0; i--) {
        int v = lsn[i] + delta;
        lsn[i] = (uint8_t)v;
        if (v >= 0 && v <= 0xFF)
            return;
        delta = v < 0 ? -1 : 1;
    }
}

/* The time of a mapping row's tran_end_time as a value. */
static int map_time(const srv_cdc_db *x, size_t i, srv_val *out, char *buf, size_t cap)
{
    tds_value v[4];
    srv_table_row(x->ltm, x->ltm->rows[i], v);
    if (v[2].flags & TDS_VF_NULL)
        return 0;
    return sv_from_wire(&x->ltm->cols[2].col, v[2].ptr, v[2].len, out, buf, cap);
}

/* sys.fn_cdc_map_time_to_lsn(op, time) over tran_end_time: "largest …"
 * takes the largest LSN of the entries that fit, "smallest …" the
 * smallest (entries are in LSN order, their times never decrease); NULL
 * when none fits. */
static void time_to_lsn(const srv_cdc_db *x, const char *op, const srv_val *when, srv_val *out, char *buf, size_t cap)
{
    bool less = strstr(op, "less") != NULL, eq = strstr(op, "equal") != NULL;
    uint8_t tb[64];
    srv_val w;
    char scratch[64];
    int64_t n = sv_to_wire(&x->ltm->cols[2], when, tb, sizeof tb);
    if (n < 0 || sv_from_wire(&x->ltm->cols[2].col, tb, (uint32_t)n, &w, scratch, sizeof scratch) < 0)
        return;
    size_t pick = SIZE_MAX;
    for (size_t i = 0; i < x->ltm->nrows; i++) {
        srv_val t;
        char tbuf[64];
        bool inc = false;
        if (map_time(x, i, &t, tbuf, sizeof tbuf) < 0 || t.k != SV_DT)
            continue;
        int c = sv_cmp(&t, &w, &inc);
        bool ok = less ? (c < 0 || (eq && c == 0)) : (c > 0 || (eq && c == 0));
        if (ok && (less || pick == SIZE_MAX))
            pick = i; /* largest below: the last that fits; smallest above: the first */
    }
    if (pick != SIZE_MAX) {
        tds_value v[4];
        srv_table_row(x->ltm, x->ltm->rows[pick], v);
        bin_out(out, buf, cap, v[0].ptr, CDC_LSN_LEN);
    }
}

/* sys.fn_cdc_map_lsn_to_time: the tran_end_time of the mapping entry with
 * that start_lsn (NULL when there is none). */
static void lsn_to_time(const srv_cdc_db *x, const uint8_t *lsn, srv_val *out, char *buf, size_t cap)
{
    for (size_t i = 0; i < x->ltm->nrows; i++) {
        tds_value v[4];
        srv_table_row(x->ltm, x->ltm->rows[i], v);
        if (memcmp(v[0].ptr, lsn, CDC_LSN_LEN) == 0) {
            if (map_time(x, i, out, buf, cap) < 0)
                *out = sv_null();
            return;
        }
    }
}

static int column_ordinal(const cdc_inst *ci, const char *col)
{
    for (int k = 0; ci && k < ci->ncols; k++)
        if (srv_ieq(ci->src->cols[ci->cols[k]].name, col))
            return k + 1;
    return -1;
}

static int bit_set(int64_t pos, const srv_val *mask)
{
    if (mask->k != SV_BIN || pos < 1 || (size_t)(pos - 1) / 8 >= mask->n)
        return 0;
    const uint8_t *m = (const uint8_t *)mask->s;
    return (m[mask->n - 1 - (size_t)(pos - 1) / 8] >> ((pos - 1) % 8)) & 1;
}

static int lsn_funcs(srv_cursor *cur, const sql_expr *e, const srv_val *a, srv_val *out, char *buf, size_t cap)
{
    srv_cdc_db *x = cur->c->cur->cdc;
    uint8_t lsn[CDC_LSN_LEN];
    char name[SRV_NAME_MAX];
    if (name_is(e, "fn_cdc_get_max_lsn")) {
        if (x && x->enabled) {
            uint64_t p = cdc_max_pos(x);
            memset(lsn, 0, sizeof lsn);
            if (p)
                cdc_lsn(p, lsn);
            bin_out(out, buf, cap, lsn, CDC_LSN_LEN);
        }
        return 1;
    }
    if (name_is(e, "fn_cdc_get_min_lsn")) {
        name_arg(&a[0], name, sizeof name);
        cdc_inst *ci = x && x->enabled ? cdc_inst_find(x, name) : NULL;
        memset(lsn, 0, sizeof lsn);
        if (ci)
            cdc_lsn(ci->start_pos, lsn);
        bin_out(out, buf, cap, lsn, CDC_LSN_LEN);
        return 1;
    }
    if (name_is(e, "fn_cdc_increment_lsn") || name_is(e, "fn_cdc_decrement_lsn")) {
        if (lsn_arg(&a[0], lsn)) {
            lsn_add(lsn, name_is(e, "fn_cdc_increment_lsn") ? 1 : -1);
            bin_out(out, buf, cap, lsn, CDC_LSN_LEN);
        }
        return 1;
    }
    if (name_is(e, "fn_cdc_map_lsn_to_time")) {
        if (x && x->ltm && lsn_arg(&a[0], lsn))
            lsn_to_time(x, lsn, out, buf, cap);
        return 1;
    }
    if (name_is(e, "fn_cdc_map_time_to_lsn")) {
        name_arg(&a[0], name, sizeof name);
        if (x && x->ltm && a[1].k != SV_NULL)
            time_to_lsn(x, name, &a[1], out, buf, cap);
        return 1;
    }
    return 0;
}

int srv_cdc_func(srv_cursor *cur, const sql_expr *e, const srv_val *a, srv_val *out, char *buf, size_t cap,
                 int32_t *err, char *msg, size_t msgcap, int *rc)
{
    static const struct { const char *name; int nargs; } fns[] = {
        { "fn_cdc_get_max_lsn", 0 }, { "fn_cdc_get_min_lsn", 1 }, { "fn_cdc_increment_lsn", 1 },
        { "fn_cdc_decrement_lsn", 1 }, { "fn_cdc_map_lsn_to_time", 1 }, { "fn_cdc_map_time_to_lsn", 2 },
        { "fn_cdc_is_bit_set", 2 }, { "fn_cdc_get_column_ordinal", 2 }, { "fn_cdc_has_column_changed", 3 },
    };
    size_t f = 0;
    while (f < sizeof fns / sizeof *fns && !name_is(e, fns[f].name))
        f++;
    if (f == sizeof fns / sizeof *fns)
        return 0;
    *rc = 0;
    *out = sv_null();
    if (e->nargs != fns[f].nargs)
        FAILF(e->nargs < fns[f].nargs ? 313 : 8144, e->nargs < fns[f].nargs
              ? "An insufficient number of arguments were supplied for the procedure or function sys.%s."
              : "Procedure or function sys.%s has too many arguments specified.", fns[f].name);
    if (fns[f].nargs == 1 && !name_is(e, "fn_cdc_get_min_lsn") && a[0].k == SV_STR) /* LSN arguments are binary(10) */
        FAILF(257, "Implicit conversion from data type nvarchar to binary is not allowed. Use the CONVERT function to run this query.");
    if (lsn_funcs(cur, e, a, out, buf, cap))
        return 1;
    srv_cdc_db *x = cur->c->cur->cdc;
    char inst[SRV_NAME_MAX], col[SRV_NAME_MAX];
    if (name_is(e, "fn_cdc_is_bit_set")) {
        if (a[0].k == SV_INT && a[1].k == SV_BIN)
            *out = sv_int(bit_set(a[0].i, &a[1]));
        return 1;
    }
    name_arg(&a[0], inst, sizeof inst);
    name_arg(&a[1], col, sizeof col);
    int ord = column_ordinal(x ? cdc_inst_find(x, inst) : NULL, col);
    if (name_is(e, "fn_cdc_get_column_ordinal"))
        *out = sv_int(ord);
    else if (a[2].k == SV_BIN)
        *out = sv_int(ord > 0 && bit_set(ord, &a[2]));
    return 1;
}

const char *srv_cdc_func_type(const sql_expr *e)
{
    if (e->t != EX_FUNC)
        return NULL;
    if (name_is(e, "fn_cdc_get_max_lsn") || name_is(e, "fn_cdc_get_min_lsn") || name_is(e, "fn_cdc_increment_lsn") ||
        name_is(e, "fn_cdc_decrement_lsn") || name_is(e, "fn_cdc_map_time_to_lsn"))
        return "binary(10)";
    if (name_is(e, "fn_cdc_map_lsn_to_time"))
        return "datetime";
    if (name_is(e, "fn_cdc_is_bit_set") || name_is(e, "fn_cdc_has_column_changed"))
        return "bit";
    if (name_is(e, "fn_cdc_get_column_ordinal"))
        return "int";
    return NULL;
}
