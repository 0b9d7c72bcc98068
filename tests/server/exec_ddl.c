/*
 * exec_ddl.c — CREATE TABLE / CREATE SCHEMA / DROP TABLE, ALTER DATABASE
 * (CHANGE_TRACKING, ALLOW_SNAPSHOT_ISOLATION, READ_COMMITTED_SNAPSHOT),
 * ALTER TABLE … ENABLE/DISABLE CHANGE_TRACKING, ALTER TABLE … ADD columns
 * and ALTER TABLE … ALTER COLUMN (rows rewritten, SQL Server's errors),
 * and bulk load: INSERT BULK
 * arms the connection, srv_bulk_columns/row collect rows into the heap
 * without listing them, srv_bulk_end lists them all or none (and logs
 * them for Change Tracking and Change Data Capture as inserts).
 *
 * Invariants: a rejected bulk batch leaves the table's row list untouched
 * (its rows stay unreachable garbage in the heap) and no captured change;
 * DDL is not transactional
 * (README.md says so).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc.h"
#include "query_int.h"

static int create_table(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    srv_database *d = resolve_db(cur, &st->target);
    const char *schema = st->target.parts[1][0] ? st->target.parts[1] : "dbo";
    if (!d) {
        srv_put_error(cur, s, 2702, 16, 2, "Database '%s' does not exist.", st->target.parts[0]);
        return -1;
    }
    if (!srv_schema_exists(d, schema)) {
        srv_put_error(cur, s, 2760, 16, 1,
                      "The specified schema name \"%s\" either does not exist or you do not have permission to use it.", schema);
        return -1;
    }
    if (srv_table_find(d, schema, st->target.parts[2])) {
        srv_put_error(cur, s, 2714, 16, 6, "There is already an object named '%s' in the database.", st->target.parts[2]);
        return -1;
    }
    if (st->ndefs > SRV_MAX_COLS) {
        srv_put_error(cur, s, 1702, 16, 1, "CREATE TABLE failed because column count exceeds the maximum of 1024.");
        return -1;
    }
    for (int i = 0; i < st->ndefs; i++)
        for (int j = 0; j < i; j++)
            if (srv_ieq(st->defs[i].name, st->defs[j].name)) {
                srv_put_error(cur, s, 2705, 16, 3, "Column names in each table must be unique. Column name '%s' in table '%s' is specified more than once.",
                              st->defs[i].name, st->target.parts[2]);
                return -1;
            }
    if (srv_t25_refuse_defs(cur, s, st->defs, st->ndefs) < 0)
        return -1;
    srv_table *t = srv_table_new(schema, st->target.parts[2], st->defs, (uint16_t)st->ndefs);
    if (!t)
        return -1;
    for (uint16_t c = 0; c < t->ncols; c++) {
        if (!t->cols[c].nullable)
            t->cols[c].col.flags &= (uint16_t)~TDS_COL_NULLABLE;
        else
            t->cols[c].col.flags |= TDS_COL_NULLABLE;
    }
    for (int k = 0; k < st->npk; k++) {
        int c = srv_table_colno(t, st->pk_cols[k]);
        if (c < 0) {
            srv_put_error(cur, s, 1911, 16, 1, "Column name '%s' does not exist in the target table or view.", st->pk_cols[k]);
            srv_table_unref(t);
            return -1;
        }
        if (t->cols[c].nullable && 0)
            break;
        t->cols[c].nullable = false;
        t->cols[c].col.flags &= (uint16_t)~TDS_COL_NULLABLE;
        t->pk[t->npk++] = c;
    }
    if (t->npk) {
        if (st->pk_name[0])
            snprintf(t->pk_name, sizeof t->pk_name, "%s", st->pk_name);
        else
            snprintf(t->pk_name, sizeof t->pk_name, "PK__%.20s__%08X", t->name, (unsigned)cur->c->db->next_object_id);
    }
    if (srv_database_add_table(cur->c->db, d, t) < 0) {
        srv_table_unref(t);
        return -1;
    }
    srv_put_done(cur, s, 0, 0xC6, 0);
    return 0;
}

static int drop_table(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    srv_database *d = resolve_db(cur, &st->target);
    srv_table *t = d ? srv_table_find(d, st->target.parts[1][0] ? st->target.parts[1] : "dbo", st->target.parts[2]) : NULL;
    if (!t) {
        if (st->flag) {
            srv_put_done(cur, s, 0, 0xC7, 0);
            return 0;
        }
        srv_put_error(cur, s, 3701, 11, 5,
                      "Cannot drop the table '%s', because it does not exist or you do not have permission.", st->target.parts[2]);
        return -1;
    }
    srv_database_drop_table(d, t);
    srv_put_done(cur, s, 0, 0xC7, 0);
    return 0;
}

static int alter_db(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    srv_database *d = srv_ieq(st->word, "current") ? cur->c->cur : srv_db_find(cur->c->db, st->word);
    if (!d) {
        srv_put_error(cur, s, 5011, 14, 5, "User does not have permission to alter database '%s', the database does not exist, or the database is not in a state that allows access checks.", st->word);
        return -1;
    }
    if (srv_ieq(st->word2, "change_tracking")) {
        if (st->flag && d->ct_enabled) {
            srv_put_error(cur, s, 22107, 16, 1, "Change tracking is already enabled for database '%s'.", d->name);
            return -1;
        }
        if (!st->flag) {
            for (size_t i = 0; i < d->ntables; i++)
                if (d->tables[i]->ct_enabled) {
                    srv_put_error(cur, s, 22115, 16, 1,
                                  "Change tracking is enabled for one or more tables in database '%s'. Disable change tracking on each table before disabling it for the database. Use the sys.change_tracking_tables catalog view to obtain a list of tables for which change tracking is enabled.",
                                  d->name);
                    return -1;
                }
        }
        d->ct_enabled = st->flag;
        if (st->pk_name[0])
            d->ct_retention = atoi(st->pk_name);
    } else if (srv_ieq(st->word2, "allow_snapshot_isolation")) {
        d->snapshot_isolation = st->flag;
    } else if (srv_ieq(st->word2, "read_committed_snapshot")) {
        d->rcsi = st->flag;
    } else {
        srv_err_syntax(cur, s, st->word2);
        return -2;
    }
    srv_put_done(cur, s, 0, 0, 0);
    return 0;
}

static int alter_table_ct(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    bool temp;
    srv_database *d;
    srv_table *t = resolve_table(cur, &st->target, &d, &temp);
    if (!t || temp) {
        if (t)
            srv_table_unref(t);
        srv_err_object(cur, s, st->target.parts[2]);
        return -2;
    }
    int rc = 0;
    if (st->flag) {
        if (!d->ct_enabled) {
            srv_put_error(cur, s, 4996, 16, 1,
                          "Change tracking must be enabled on database '%s' before it can be enabled on table '%s'.", d->name, t->name);
            rc = -1;
        } else if (!t->npk) {
            srv_put_error(cur, s, 4997, 16, 1,
                          "Cannot enable change tracking on table '%s'. Change tracking requires a primary key on the table. Create a primary key on the table before enabling change tracking.",
                          t->name);
            rc = -1;
        } else if (t->ct_enabled) {
            srv_put_error(cur, s, 4999, 16, 1, "Change tracking is already enabled for table '%s'.", t->name);
            rc = -1;
        } else if (t->generated && (t->gen_rows > 1000000 || srv_table_materialize(t) < 0)) {
            srv_put_error(cur, s, 50000, 16, 1, "tdstestd: generated table '%s' has too many rows to track.", t->name);
            rc = -1;
        } else {
            t->ct_enabled = true;
            t->ct_track_columns = st->npk == 1;
            t->ct_begin_version = d->ct_version;
            t->nct = 0;
            t->ct_keys_len = 0;
        }
    } else {
        if (!t->ct_enabled) {
            srv_put_error(cur, s, 4998, 16, 1, "Change tracking is not enabled on table '%s'.", t->name);
            rc = -1;
        }
        t->ct_enabled = false;
        t->nct = 0;
    }
    srv_table_unref(t);
    if (!rc)
        srv_put_done(cur, s, 0, 0, 0);
    return rc;
}

static int insert_bulk(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    srv_conn *c = cur->c;
    bool temp;
    srv_table *t = resolve_table(cur, &st->target, NULL, &temp);
    if (!t || temp) {
        if (t)
            srv_table_unref(t);
        srv_err_object(cur, s, st->target.parts[2]);
        return -2;
    }
    if (t->generated && (t->gen_rows > 1000000 || srv_table_materialize(t) < 0)) {
        srv_put_error(cur, s, 50000, 16, 1, "tdstestd: generated table '%s' has too many rows to modify.", t->name);
        srv_table_unref(t);
        return -1;
    }
    for (int i = 0; i < st->ndefs; i++) {
        c->bulk_map[i] = srv_table_colno(t, st->defs[i].name);
        if (c->bulk_map[i] < 0) {
            srv_err_column(cur, s, st->defs[i].name);
            srv_table_unref(t);
            return -1;
        }
    }
    if (c->bulk_table)
        srv_table_unref(c->bulk_table);
    c->bulk_table = t;
    c->bulk_n = (uint16_t)st->ndefs;
    c->bulk_nrows = 0;
    c->bulk_err = 0;
    srv_put_done(cur, s, 0, 0, 0);
    return 0;
}

/* ------------------------------------------------------------ ALTER TABLE ADD / ALTER COLUMN */

/* A stored value of column `from` converted for `to` into buf (SQL Server's
 * rules: sv_to_wire's overflow and truncation errors). Returns the length,
 * SRV_NULL_LEN, or a negative SQL error number. */
static int64_t convert_value(const srv_coldef *from, const srv_coldef *to, const tds_value *v, uint8_t *buf,
                             size_t cap, char *scratch, size_t scap)
{
    if (v->flags & TDS_VF_NULL)
        return to->nullable ? (int64_t)SRV_NULL_LEN : -515;
    srv_val sv;
    if (sv_from_wire(&from->col, v->ptr, v->len, &sv, scratch, scap) < 0)
        return -245;
    return sv_to_wire(to, &sv, buf, cap);
}

static void alter_error(srv_cursor *cur, tds_session *s, const srv_table *t, const srv_coldef *d, int64_t e)
{
    if (e == -515)
        srv_put_error(cur, s, 515, 16, 2, "Cannot insert the value NULL into column '%s', table '%s'; column does not allow nulls. UPDATE fails.",
                      d->name, t->name);
    else if (e == -8115)
        srv_put_error(cur, s, 8115, 16, 2, "Arithmetic overflow error converting expression to data type %s.", d->type_name);
    else if (e == -2628)
        srv_put_error(cur, s, 2628, 16, 1, "String or binary data would be truncated in table '%s', column '%s'.", t->name,
                      d->name);
    else
        srv_put_error(cur, s, 245, 16, 1, "Conversion failed when converting a value to data type %s.", d->type_name);
    srv_put_error(cur, s, 3621, 0, 0, "The statement has been terminated.");
}

/* The new column list: t's, with ADD's appended or ALTER's replaced. */
static int alter_defs(srv_cursor *cur, tds_session *s, const srv_table *t, const sql_stmt *st, srv_coldef *defs,
                      uint16_t *n, int *changed)
{
    bool add = !strcmp(st->word2, "add");
    memcpy(defs, t->cols, t->ncols * sizeof *defs);
    *n = t->ncols;
    for (int i = 0; i < st->ndefs; i++) {
        const srv_coldef *d = &st->defs[i];
        int c = srv_table_colno(t, d->name);
        if (add && c >= 0) {
            srv_put_error(cur, s, 2705, 16, 4, "Column names in each table must be unique. Column name '%s' in table '%s' is specified more than once.",
                          d->name, t->name);
            return -1;
        }
        if (add && !d->nullable && t->nrows) {
            srv_put_error(cur, s, 4901, 16, 1, "ALTER TABLE only allows columns to be added that can contain nulls, or have a DEFAULT definition specified, or the column being added is an identity or timestamp column, or alternatively if none of the previous conditions are satisfied the table must be empty to allow addition of this column. Column '%s' cannot be added to non-empty table '%s' because it does not satisfy these conditions.",
                          d->name, t->name);
            return -1;
        }
        if (add && *n >= SRV_MAX_COLS) {
            srv_put_error(cur, s, 1702, 16, 1, "CREATE TABLE failed because column count exceeds the maximum of 1024.");
            return -1;
        }
        if (!add && c < 0) {
            srv_put_error(cur, s, 4924, 16, 1, "ALTER TABLE ALTER COLUMN failed because column '%s' does not exist in table '%s'.",
                          d->name, t->name);
            return -1;
        }
        for (int k = 0; !add && k < t->npk; k++)
            if (t->pk[k] == c) {
                srv_put_error(cur, s, 5074, 16, 1, "The object '%s' is dependent on column '%s'.",
                              t->pk_name[0] ? t->pk_name : "PK", d->name);
                srv_put_error(cur, s, 4922, 16, 9, "ALTER TABLE ALTER COLUMN %s failed because one or more objects access this column.",
                              d->name);
                return -1;
            }
        if (add)
            c = (*n)++;
        else
            *changed = c;
        defs[c] = *d;
        srv_coldef_fix(&defs[c]);
        defs[c].col.ordinal = (uint16_t)c;
        if (defs[c].nullable)
            defs[c].col.flags |= TDS_COL_NULLABLE;
        else
            defs[c].col.flags &= (uint16_t)~TDS_COL_NULLABLE;
    }
    return 0;
}

/* Every row of t rewritten into nt's layout (new columns NULL, the
 * altered one converted). Returns 0, or -1 with the error sent. */
static int alter_rows(srv_cursor *cur, tds_session *s, srv_table *t, srv_table *nt, int changed)
{
    tds_value *vals = calloc((size_t)nt->ncols + 1, sizeof *vals);
    uint8_t *buf = malloc(65536);
    char *scratch = malloc(65536);
    int rc = vals && buf && scratch ? 0 : -1;
    if (rc)
        srv_put_error(cur, s, 701, 17, 1, "There is insufficient system memory to run this query.");
    for (size_t r = 0; !rc && r < t->nrows; r++) {
        srv_table_row(t, t->rows[r], vals);
        for (uint16_t c = t->ncols; c < nt->ncols; c++)
            vals[c] = (tds_value){ .flags = TDS_VF_NULL };
        if (changed >= 0) {
            int64_t n = convert_value(&t->cols[changed], &nt->cols[changed], &vals[changed], buf, 65536, scratch, 65536);
            if (n < 0 && n != (int64_t)SRV_NULL_LEN) {
                alter_error(cur, s, t, &nt->cols[changed], n);
                rc = -1;
                break;
            }
            vals[changed] = n == (int64_t)SRV_NULL_LEN ? (tds_value){ .flags = TDS_VF_NULL }
                                                       : (tds_value){ .ptr = buf, .len = (uint32_t)n };
        }
        uint64_t off = srv_table_heap_put(nt, vals);
        if (off == UINT64_MAX || srv_table_append(nt, off) < 0) {
            srv_put_error(cur, s, 701, 17, 1, "There is insufficient system memory to run this query.");
            rc = -1;
        }
    }
    free(vals);
    free(buf);
    free(scratch);
    return rc;
}

/* t takes nt's columns and rows (nt keeps t's old ones and is freed). */
static void alter_swap(srv_table *t, srv_table *nt)
{
#define SWAP(f) do { __typeof__(t->f) tmp_ = t->f; t->f = nt->f; nt->f = tmp_; } while (0)
    SWAP(cols); SWAP(ncols); SWAP(heap); SWAP(heap_len); SWAP(heap_cap);
    SWAP(rows); SWAP(nrows); SWAP(cap_rows);
#undef SWAP
    for (uint16_t c = 0; c < t->ncols; c++) {
        srv_coldef_fix(&t->cols[c]);
        if (t->cols[c].col.table.len) {
            t->cols[c].col.table.ptr = t->name;
            t->cols[c].col.table.len = strlen(t->name);
        }
    }
    t->idx_dirty = true;
    srv_table_reindex(t);
}

/* ALTER TABLE t ADD c type [NULL], … / ALTER TABLE t ALTER COLUMN c type
 * [NULL|NOT NULL]: the rows are rewritten at once; a value the new type
 * cannot hold fails the statement (8115, 2628, 515) and changes nothing;
 * a key column cannot be altered (5074 + 4922). */
static int alter_columns(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    bool temp;
    srv_table *t = resolve_table(cur, &st->target, NULL, &temp);
    if (!t || temp) {
        if (t)
            srv_table_unref(t);
        srv_put_error(cur, s, 4902, 16, 1, "Cannot find the object \"%s\" because it does not exist or you do not have permissions.",
                      st->target.parts[2]);
        return -2;
    }
    int rc = -1, changed = -1;
    uint16_t n = 0;
    srv_coldef *defs = calloc(SRV_MAX_COLS + 1, sizeof *defs);
    srv_table *nt = NULL;
    if (!defs || (t->generated && srv_table_materialize(t) < 0))
        srv_put_error(cur, s, 701, 17, 1, "There is insufficient system memory to run this query.");
    else if (t->undo_saved)
        srv_put_error(cur, s, 50000, 16, 1, "tdstestd: ALTER TABLE after changing rows of '%s' in the same transaction is not supported.",
                      t->name);
    else if (!alter_defs(cur, s, t, st, defs, &n, &changed) && (nt = srv_table_new(t->schema, t->name, defs, n)) &&
             !alter_rows(cur, s, t, nt, changed))
        rc = 0;
    if (!rc) {
        alter_swap(t, nt);
        srv_put_done(cur, s, 0, 0, 0);
    }
    srv_table_unref(nt);
    free(defs);
    srv_table_unref(t);
    return rc;
}

int exec_ddl(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    switch (st->t) {
    case ST_CREATE_TABLE:
        return create_table(cur, s, st);
    case ST_CREATE_SCHEMA: {
        srv_database *d = cur->c->cur;
        if (srv_schema_exists(d, st->word)) {
            srv_put_error(cur, s, 2714, 16, 6, "There is already an object named '%s' in the database.", st->word);
            return -1;
        }
        srv_schema_add(d, st->word);
        srv_put_done(cur, s, 0, 0, 0);
        return 0;
    }
    case ST_DROP_TABLE:
        return drop_table(cur, s, st);
    case ST_ALTER_DB:
        return alter_db(cur, s, st);
    case ST_ALTER_TABLE_CT: /* the parser's ALTER TABLE family */
        return st->ndefs ? alter_columns(cur, s, st) : alter_table_ct(cur, s, st);
    case ST_INSERT_BULK:
        return insert_bulk(cur, s, st);
    default:
        return -1;
    }
}

/* ------------------------------------------------------------ bulk */

int srv_bulk_columns(srv_conn *c, const tds_column *cols, uint16_t n)
{
    if (!c->bulk_table)
        return -1;
    if (n != c->bulk_n) {
        /* map by position when the client sends all table columns */
        if (n > c->bulk_table->ncols)
            return -1;
        for (uint16_t i = 0; i < n; i++)
            c->bulk_map[i] = i;
        c->bulk_n = n;
    }
    c->bulk_nrows = 0;
    c->bulk_err = 0;
    int bad = srv_t25_bulk_bad_col(cols, n);
    if (bad) {
        c->bulk_err = 4816;
        snprintf(c->bulk_errmsg, sizeof c->bulk_errmsg, "Invalid column type from bcp client for colid %d.", bad);
    }
    return 0;
}

static void bulk_refuse(srv_conn *c, int32_t num, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bulk_refuse(srv_conn *c, int32_t num, const char *fmt, ...)
{
    if (c->bulk_err)
        return;
    c->bulk_err = num;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->bulk_errmsg, sizeof c->bulk_errmsg, fmt, ap);
    va_end(ap);
}

int srv_bulk_row(srv_conn *c, const tds_column *cols, const tds_value *vals, uint16_t n)
{
    srv_table *t = c->bulk_table;
    if (!t)
        return -1;
    if (c->bulk_err)
        return 0;
    /* the close_after_rows fault drops the connection in mid-bulk: the
     * client must find its target as it was (the close rolls back) */
    if (c->faults.close_after_rows && ++c->bulk_seen >= c->faults.close_after_rows)
        return SRV_BULK_CLOSE;
    tds_value row[SRV_MAX_COLS];
    for (uint16_t i = 0; i < t->ncols; i++) {
        row[i].ptr = NULL;
        row[i].len = 0;
        row[i].flags = TDS_VF_NULL;
    }
    /* a converted value takes a scratch area and an output area */
    size_t need = 0;
    for (uint16_t i = 0; i < n; i++)
        need += 2 * ((size_t)vals[i].len * 2 + 64);
    uint8_t *mem = malloc(need + 1);
    if (!mem)
        return -1;
    size_t used = 0;
    for (uint16_t i = 0; i < n && i < c->bulk_n; i++) {
        const srv_coldef *d = &t->cols[c->bulk_map[i]];
        if (vals[i].flags & TDS_VF_NULL)
            continue;
        /* char(n), nchar(n) and binary(n) are stored padded: FreeTDS sends
         * them trimmed, so short ones go through the conversion below. */
        bool fixed = d->col.type == TDS_T_BIGCHAR || d->col.type == TDS_T_NCHAR ||
                     d->col.type == TDS_T_BIGBINARY;
        if ((!fixed || vals[i].len == d->col.max_len) &&
            cols[i].type == d->col.type && cols[i].kind == d->col.kind && cols[i].scale == d->col.scale &&
            cols[i].precision == d->col.precision && cols[i].max_len == d->col.max_len &&
            (d->char_len <= 0 || d->col.kind == TDS_K_BINARY ? vals[i].len <= (uint32_t)(d->char_len > 0 ? d->char_len : INT32_MAX)
                              : d->col.kind == TDS_K_NCHAR ? vals[i].len / 2 <= (uint32_t)d->char_len
                                                           : vals[i].len <= (uint32_t)d->char_len)) {
            row[c->bulk_map[i]] = vals[i];
            row[c->bulk_map[i]].flags = 0;
            continue;
        }
        srv_val v;
        char *scratch = (char *)mem + used;
        size_t cap = (size_t)vals[i].len * 2 + 64;
        used += cap;
        if (sv_from_wire(&cols[i], vals[i].ptr, vals[i].len, &v, scratch, cap) < 0) {
            bulk_refuse(c, 4815, "Received an invalid column length from the bcp client for colid %u.",
                      (unsigned)c->bulk_map[i] + 1);
            break;
        }
        uint8_t *out = mem + used;
        size_t ocap = (size_t)vals[i].len * 2 + 64;
        used += ocap;
        if (used > need) { /* cannot happen: need counts both areas */
            bulk_refuse(c, 4815, "Received an invalid column length from the bcp client for colid %u.",
                      (unsigned)c->bulk_map[i] + 1);
            break;
        }
        int64_t r = sv_to_wire(d, &v, out, ocap);
        if (r < 0 && r != (int64_t)SRV_NULL_LEN) {
            bulk_refuse(c, 4815, "Received an invalid column length from the bcp client for colid %u.",
                      (unsigned)c->bulk_map[i] + 1);
            break;
        }
        row[c->bulk_map[i]].ptr = out;
        row[c->bulk_map[i]].len = (uint32_t)r;
        row[c->bulk_map[i]].flags = 0;
    }
    for (uint16_t i = 0; i < t->ncols && !c->bulk_err; i++)
        if ((row[i].flags & TDS_VF_NULL) && !t->cols[i].nullable) {
            char tn[300];
            snprintf(tn, sizeof tn, "%s.%s.%s", t->dbp ? t->dbp->name : "", t->schema, t->name);
            bulk_refuse(c, 515, "Cannot insert the value NULL into column '%s', table '%s'; column does not allow nulls. INSERT fails.",
                      t->cols[i].name, tn);
        }
    if (!c->bulk_err) {
        uint64_t off = srv_table_heap_put(t, row);
        if (off == UINT64_MAX) {
            free(mem);
            return -1;
        }
        if (c->bulk_nrows == c->bulk_cap) {
            size_t cap = c->bulk_cap ? c->bulk_cap * 2 : 1024;
            uint64_t *nr = realloc(c->bulk_rows, cap * sizeof *nr);
            if (!nr) {
                free(mem);
                return -1;
            }
            c->bulk_rows = nr;
            c->bulk_cap = cap;
        }
        c->bulk_rows[c->bulk_nrows++] = off;
    }
    free(mem);
    return 0;
}

srv_cursor *srv_bulk_end(srv_conn *c)
{
    srv_cursor *cur = calloc(1, sizeof *cur);
    if (!cur)
        return NULL;
    cur->c = c;
    cur->bulk_end = true;
    cur->parsed = true;
    srv_table *t = c->bulk_table;
    if (!t) {
        cur->perr.number = 4804;
        snprintf(cur->perr.msg, sizeof cur->perr.msg, "While reading current row from host, a premature end-of-message was encountered--an incoming data stream was interrupted when the server expected to see more data. The host program may have terminated. Ensure that you are using a supported client application programming interface (API).");
        return cur;
    }
    if (c->bulk_err) {
        cur->perr.number = c->bulk_err;
        snprintf(cur->perr.msg, sizeof cur->perr.msg, "%s", c->bulk_errmsg);
    } else {
        size_t n0 = t->nrows, nct0 = t->nct;
        /* the load's captured changes start here: a rejected load takes
         * them back with its rows */
        size_t cdc0 = srv_cdc_mark(c);
        tran_touch(c, t);
        c->stmt_version = 0;
        uint64_t v0 = t->dbp ? t->dbp->ct_version : 0;
        for (size_t i = 0; i < c->bulk_nrows && !cur->perr.number; i++) {
            uint64_t off = c->bulk_rows[i];
            tds_value all[SRV_MAX_COLS], kv[SRV_MAX_PK];
            srv_table_row(t, off, all);
            for (int k = 0; k < t->npk; k++)
                kv[k] = all[t->pk[k]];
            if (t->npk && srv_table_pk_find(t, kv) != UINT64_MAX) {
                char key[512];
                srv_table_key_text(t, all, key, sizeof key);
                cur->perr.number = 2627;
                snprintf(cur->perr.msg, sizeof cur->perr.msg,
                         "Violation of PRIMARY KEY constraint '%s'. Cannot insert duplicate key in object '%s.%s'. The duplicate key value is (%s).",
                         t->pk_name, t->schema, t->name, key);
                break;
            }
            srv_table_append(t, off);
            ct_record(c, t, all, 'I');
            /* SQL Server's capture reads bulk inserts from the log like
             * any insert (a minimally logged load is still captured) */
            if (srv_cdc_record(c, t, CDC_OP_INSERT, UINT64_MAX, off) < 0) {
                cur->perr.number = 701;
                snprintf(cur->perr.msg, sizeof cur->perr.msg, "There is insufficient system memory to run this query.");
            }
        }
        if (cur->perr.number) {
            t->nrows = n0;
            t->nct = nct0;
            t->idx_dirty = true;
            if (t->dbp && !c->trancount)
                t->dbp->ct_version = v0;
            srv_cdc_undo(c, cdc0);
        } else {
            cur->bulk_count = c->bulk_nrows;
            if (!c->trancount)
                srv_cdc_commit(c); /* an autocommit load */
        }
    }
    c->bulk_nrows = 0;
    c->bulk_err = 0;
    srv_table_unref(t);
    c->bulk_table = NULL;
    return cur;
}
