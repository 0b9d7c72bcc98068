/*
 * sql_int.h — the SQL-sink core and the dialect each SQL destination
 * supplies (DuckDB, PostgreSQL, SQLite, SQL Server).
 *
 * The core (sql_core.c) owns the flow of a load: the transaction, the
 * schema, the target's creation and evolution, the stage, which
 * statements each strategy runs at commit and in which order, the state
 * rows written in the same transaction, and the rollback on abort. The
 * statements themselves are built once (sql_strategy.c, sql_cdc.c) from
 * the dialect's spelling. A dialect is a table of strings, flags and a few
 * hooks: how to run a statement, whether a table exists, the type name of
 * a column, a literal, and the bulk channel that moves batches of rows
 * into a table (DuckDB appender, PostgreSQL binary COPY, SQLite prepared
 * INSERT, SQL Server INSERT BULK). The per-row code lives in the channel;
 * the core dispatches per batch.
 *
 * Invariants: a backend struct starts with `sql_sink` (which starts with
 * `sink`); q->in_txn is true exactly while the load's transaction is open
 * (a channel that loses its connection clears it).
 */
#ifndef TDSPIPE_SQL_INT_H
#define TDSPIPE_SQL_INT_H

#include "sink_int.h"

typedef struct sql_sink sql_sink;

typedef struct sink_dialect {
    const char *name;          /* message prefix: "duckdb", "mssql" */
    char quote[2];             /* identifier quotes: "\"\"" or "[]" */
    const char *str_prefix;    /* before a string literal: "" or "N" */
    const char *begin_sql, *commit_sql, *rollback_sql;
    const char *create_schema; /* "CREATE SCHEMA IF NOT EXISTS " */
    const char *create_target; /* "CREATE TABLE IF NOT EXISTS " or "CREATE TABLE " */
    const char *null_word;     /* after a nullable column: "" or " NULL" */
    const char *ord_type;      /* the merge stage's _tdspipe_ord column type */
    const char *stage_prefix;  /* the stage is <prefix><table>, in the target's schema */
    const char *state_create;  /* CREATE TABLE of _tdspipe_state */
    const char *new_target_hint; /* after the target of INSERT … SELECT into a
                                  table this load created (T-SQL " WITH
                                  (TABLOCK)": one lock, minimal logging);
                                  NULL: none */
    bool no_schema;            /* one namespace: "dbo.t" loads "t" (SQLite) */
    bool nocase;               /* identifiers compare case-insensitively */
    bool target_pk;            /* tables we create carry the primary key */
    bool pk_after_swap;        /* replace: ADD PRIMARY KEY after the rename,
                                  not on the stage (PostgreSQL) */
    bool append_via_stage;     /* the channel needs our exact types: an append
                                  into an existing table goes through a stage */
    bool stage_key_index;      /* merge: CREATE INDEX on the stage's key */
    bool merge_stmt;           /* merge of distinct non-text keys: one MERGE */
    /* Schema evolution (sql_evolve.c, docs/schema-evolution.md) */
    const char *add_column;    /* after "ALTER TABLE t": " ADD COLUMN " or " ADD " */
    const char *alter_type;    /* between the column and its new type: " TYPE "
                                  (ALTER TABLE t ALTER COLUMN c TYPE x), " " for
                                  T-SQL (which repeats NULL / NOT NULL after the
                                  type); NULL: a column's type cannot change */
    bool alter_null;           /* ALTER COLUMN restates the nullability (T-SQL) */
    const char *str_max;       /* an unbounded length: "(max)"; NULL: the
                                  source's own unbounded type ("text") */
    bool loose_types;          /* declared lengths and integer widths are not
                                  enforced (SQLite's affinity): nothing widens */

    /* The type of c in CREATE TABLE / ADD COLUMN; key: a key column. */
    const char *(*type)(const tds_column *c, bool key, char *tmp, size_t cap);
    /* A literal of a non-NULL value, to compare with c's column. Returns 0,
     * SINK_E_NOMEM, SINK_E_VALUE. */
    int (*literal)(sink_buf *b, const tds_column *c, const tds_value *v);
    /* Runs statements; failures go into q->base.err as "<name>: …". */
    int (*exec)(sql_sink *q, const char *sql, const char *what);
    /* Does schema.table exist (schema NULL: the current one)? */
    int (*exists)(sql_sink *q, const char *schema, const char *table, bool *exists);
    /* Does the schema exist? NULL: create_schema runs whenever one is named. */
    int (*schema_exists)(sql_sink *q, const char *schema, bool *exists);
    /* The existing target's columns, one a line, NUL-terminated in cols:
     * "name\ttype\tnullable" (type as the destination spells it, with its
     * length, precision or collation; nullable "1" or "0"). NULL: no schema
     * evolution. */
    int (*columns)(sql_sink *q, sink_buf *cols);
    /* The statement that renames the stage to the target (replace); NULL:
     * ALTER TABLE stage RENAME TO target. */
    int (*rename)(const sql_sink *q, sink_buf *b);
    /* The Change Tracking merge of the stage into the target (sink.h). */
    int (*merge_cdc)(const sql_sink *q, sink_buf *b);
    /* delete+insert without bounds: runs `sql` (SELECT MIN(k), MAX(k)) and
     * gives the row as literals, one a line, so the DELETE has no scalar
     * subqueries. NULL: the DELETE reads the stage's MIN/MAX itself. */
    int (*row_literals)(sql_sink *q, const char *sql, const char *what, sink_buf *lits);
    /* SELECT expr FROM from [WHERE where]: the first row's value as text. */
    int (*value)(sql_sink *q, const char *expr, const char *from, const char *where,
                 char *out, size_t cap, bool *found);

    /* The bulk channel. open: rows of this load go into table (q->stage or
     * the target; q->with_ord adds _tdspipe_ord = q->ord++ per row). rows:
     * one batch. close: everything sent, before the commit statements.
     * drop: abandon (abort); the rollback follows. */
    int (*bulk_open)(sql_sink *q, const char *table);
    int (*bulk_rows)(sql_sink *q, const sink_batch *b);
    int (*bulk_close)(sql_sink *q);
    void (*bulk_drop)(sql_sink *q);
    /* Closes the connection and frees the backend's own fields. */
    void (*free)(sql_sink *q);
} sink_dialect;

struct sql_sink {
    sink base;
    const sink_dialect *d;
    sink_schema sc;
    sink_buf sql;
    char *stage;
    bool in_txn;
    bool staged;         /* rows go into the stage */
    bool staged_append;  /* an append through the stage */
    bool target_new;     /* the target was created by this load (empty, ours) */
    bool with_ord;       /* merge: the stage has _tdspipe_ord */
    int64_t ord;
    /* merge_stmt dialects: hashes of the staged keys (sql_keys.c) */
    uint64_t *keys;
    size_t keys_cap, keys_n;
    bool dup_keys;
    /* The contract's filter (sql_evolve.c): set when rows lose columns the
     * target lacks (discard_*) or values the target cannot hold. */
    struct sql_filter *filter;
};

/* sql_core.c: the vtable functions of every SQL destination. */
int sink__sql_begin(sink *s, const sink_table *t);
int sink__sql_append(sink *s, const sink_batch *b);
int sink__sql_commit(sink *s);
void sink__sql_abort(sink *s);
void sink__sql_close(sink *s);
int sink__sql_lookup(sink *s, const char *table, const char *expr, const char *where,
                     char *out, size_t cap, bool *found);
int sink__sql_nomem(sql_sink *q);
/* sql_slices.c: sink_slices_finalize of the SQL destinations. */
int sink__sql_finalize(sink *s, const char *table, const char *const *parts, size_t n, sink_strategy st,
                       const char *const *keys, size_t nkeys);

#define SINK_SQL_VTABLE(scheme_, alias_, open_)                                       \
    {.scheme = scheme_, .alias = alias_, .open = open_, .begin = sink__sql_begin,   \
     .append = sink__sql_append, .commit = sink__sql_commit, .abort = sink__sql_abort, \
     .close = sink__sql_close, .lookup = sink__sql_lookup, .finalize = sink__sql_finalize}

/* sql_keys.c: notes a merge batch's keys; sets q->dup_keys when one
 * repeats. Returns 0 or SINK_E_NOMEM. */
int sink__sql_note_keys(sql_sink *q, const sink_batch *b);

/* sql.c: text in q's dialect. */
int sink__sql_ident(const sql_sink *q, sink_buf *b, const char *name);
/* schema.t (just t when schema is NULL). */
int sink__sql_qname(const sql_sink *q, sink_buf *b, const char *schema, const char *t);
/* t in the load's schema. */
int sink__sql_table(const sql_sink *q, sink_buf *b, const char *t);
/* the load's columns, each qualified by qual when not NULL */
int sink__sql_collist(const sql_sink *q, sink_buf *b, const char *qual);
/* " (<the load's columns>[, _tdspipe_ord])": the columns a bulk channel
 * writes (q->with_ord: the merge stage's order column too) */
int sink__sql_bulk_cols(const sql_sink *q, sink_buf *b);
/* 'text' with quotes doubled (no prefix). */
int sink__sql_string(sink_buf *b, const char *s, size_t n);
/* CAST('<canonical text>' AS type), binary as unhex('…'), decode('…',
 * 'hex') for "decode_hex", or 0x… for "0x". */
int sink__sql_cast_literal(sink_buf *b, const tds_column *c, const tds_value *v, const char *type,
                           const char *unhex);
bool sink__sql_in_pk(const sink_schema *sc, size_t i);

/* sql_strategy.c: the statements, each list ending without ";\n". */
int sink__sql_create(const sql_sink *q, sink_buf *b, const char *head, const char *table,
                     bool with_ord, bool with_pk);
/* sql_evolve.c: the load's columns against an existing target, under
 * q->sc.contract: ALTER TABLE ADD / ALTER COLUMN (evolve), the error
 * naming the differences (freeze), or a filter that drops columns, rows
 * or values (discard_row, discard_value). Returns 0 or a sink_err with
 * the message set. */
int sink__sql_evolve(sql_sink *q);
/* The batch as the channel must see it: b itself without a filter, else
 * the kept columns of the kept rows in *out (views into b's values). */
int sink__sql_filter(sql_sink *q, const sink_batch *b, sink_batch *out);
void sink__sql_filter_free(sql_sink *q);

/* The commit statements of q's strategy into b (may run row_literals). */
int sink__sql_strategy(sql_sink *q, sink_buf *b);
int sink__sql_state(const sql_sink *q, sink_buf *b);
/* sql_cdc.c: the Change Tracking merge of the double-quote dialects. */
int sink__sql_cdc_merge(const sql_sink *q, sink_buf *b);

/* The sink_dialect fields DuckDB, PostgreSQL and SQLite spell alike
 * (double quotes, COMMIT/ROLLBACK, IF NOT EXISTS, ADD COLUMN, sql_cdc.c's
 * merge): their initializers start with it and add what differs (begin_sql,
 * create_schema, flags, the callbacks). Not repeated there: a field given
 * twice is an error under -Werror (-Woverride-init). */
#define SINK__SQL_DQ_DIALECT                                                                       \
    .quote = "\"\"", .str_prefix = "", .commit_sql = "COMMIT", .rollback_sql = "ROLLBACK",          \
    .create_target = "CREATE TABLE IF NOT EXISTS ", .null_word = "", .ord_type = "BIGINT",         \
    .stage_prefix = SINK__STAGE_PREFIX,                                                            \
    .state_create = "CREATE TABLE IF NOT EXISTS \"" SINK__STATE_TABLE "\" "                         \
                    "(\"name\" VARCHAR PRIMARY KEY, \"value\" VARCHAR NOT NULL)",                    \
    .stage_key_index = true, .add_column = " ADD COLUMN ", .merge_cdc = sink__sql_cdc_merge

#endif /* TDSPIPE_SQL_INT_H */
