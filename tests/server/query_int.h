/*
 * query_int.h — private header of tdstestd's query half (scenario, tables,
 * generators, SQL subset, executors, cursor). Not part of engine.h.
 *
 * Owns the shared structs: scalar values (srv_val), column definitions,
 * tables (stored rows as encoded wire bytes in a per-table heap, or
 * generated rows computed on demand), databases, connections, the parsed
 * statement tree, and the cursor state.
 *
 * Invariants:
 * - A stored row is one blob in its table's heap: for each column a u32 LE
 *   length (0xFFFFFFFF = NULL) then the value's wire bytes (exactly what a
 *   ROW token carries after the length prefix). The heap only grows; rows
 *   are addressed by heap offset, so an offset stays valid while the table
 *   lives even when the heap moves. Deleting or updating a row only edits
 *   the table's row list (`rows`).
 * - A generated table holds no rows: the value of column c at row i is a
 *   pure function (generate.c), so a 10M-row table costs no memory.
 * - Tables are reference counted: a cursor streaming from a table keeps it
 *   alive across DROP TABLE.
 * - Everything is single-threaded (the network half runs one event loop).
 */
#ifndef TDSTESTD_QUERY_INT_H
#define TDSTESTD_QUERY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "tds.h"

#define SRV_NAME_MAX 129        /* sysname (128) + NUL */
#define SRV_MAX_COLS 1024
#define SRV_MAX_PK 16
#define SRV_NULL_LEN 0xFFFFFFFFu

/* ------------------------------------------------------------ values */

typedef enum sv_kind {
    SV_NULL = 0, SV_INT, SV_FLOAT, SV_DEC, SV_STR, SV_BIN, SV_DT, SV_GUID,
} sv_kind;

/* A scalar: literal, parameter, function result or decoded column value.
 * s points to UTF-8 (SV_STR) or bytes (SV_BIN), owned by whoever made it. */
typedef struct srv_val {
    sv_kind k;
    int64_t i;
    double f;
    tds_decimal d;
    tds_datetime dt;
    uint8_t g[16];          /* RFC order */
    const char *s;
    size_t n;
} srv_val;

/* Generator parameters (generate.c documents the functions). */
typedef struct srv_gen {
    int64_t start, step;    /* x(i) = start + i * step */
    uint32_t null_every;    /* 0: never NULL; k: NULL when i % k == k - 1 */
    uint32_t width;         /* text/binary: pad to this many chars/bytes */
    int64_t modulo;         /* 0: none; else x = start + (i*step mod modulo) */
    char prefix[64];        /* text prefix (default: column name + "-") */
    bool has_prefix;
} srv_gen;

typedef struct srv_coldef {
    char name[SRV_NAME_MAX];
    char type_name[24];     /* lower-case SQL type: "int", "nvarchar" */
    tds_column col;         /* wire metadata; col.name points at name */
    int32_t max_length;     /* sys.columns.max_length: bytes, -1 = (max) */
    int32_t char_len;       /* declared length in characters, -1 = max, 0 = n/a */
    bool nullable;
    srv_gen gen;
} srv_coldef;

/* types2025.c: json and vector(n[, float16]) (issue 18). type_parse
 * returns 1 (d filled), 0 (not one of them) or -1 (invalid). */
int srv_t25_type_parse(const char *text, srv_coldef *d);
size_t srv_t25_gen_cap(const srv_coldef *d);
uint32_t srv_t25_gen(const srv_coldef *d, int64_t x, uint8_t *out, size_t cap);
int srv_t25_from_wire(const tds_column *c, const uint8_t *p, uint32_t len, srv_val *v,
                      char *scratch, size_t cap);
int64_t srv_t25_to_wire(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap);
/* The server knows json/vector (scenario version >= 17); CREATE TABLE's
 * refusal (error 2715) on an older one: -1 after the error is put. */
bool srv_t25_known(const srv_conn *c);
/* INSERT BULK metadata with json (0xF4), which SQL Server refuses: the
 * 1-based colid, or 0. */
int srv_t25_bulk_bad_col(const tds_column *cols, uint16_t n);

/* value.c */
/* Parses "nvarchar(32)", "decimal(18,4)", "varchar(max)", "datetime2" …
 * into d (name untouched). Returns 0 or -1 for an unknown/invalid type. */
int srv_type_parse(const char *text, srv_coldef *d);
/* Fixes d->col.name to point at d->name (call after copying a coldef). */
void srv_coldef_fix(srv_coldef *d);
/* Decodes wire bytes of column c into v. Text is converted to UTF-8 into
 * scratch (cap bytes). Returns 0 or -1. */
int sv_from_wire(const tds_column *c, const uint8_t *p, uint32_t len, srv_val *v,
                 char *scratch, size_t cap);
/* Encodes v for column d into out. Returns the length, SRV_NULL_LEN for
 * NULL, or a negative SQL error: -245 conversion failed, -8115 overflow,
 * -2628 truncation. */
int64_t sv_to_wire(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap);
/* Three-way compare with SQL semantics (numbers numerically, strings
 * case-insensitively with trailing blanks ignored, dates by instant).
 * NULLs compare lowest. *incomparable set when types do not mix. */
int sv_cmp(const srv_val *a, const srv_val *b, bool *incomparable);
/* Canonical text of v into buf (for error messages). */
void sv_text(const srv_val *v, char *buf, size_t cap);
/* Value helpers. */
static inline srv_val sv_int(int64_t i) { srv_val v = { .k = SV_INT, .i = i }; return v; }
static inline srv_val sv_str(const char *s, size_t n) { srv_val v = { .k = SV_STR, .s = s, .n = n }; return v; }
static inline srv_val sv_null(void) { srv_val v = { .k = SV_NULL }; return v; }
/* ASCII case-insensitive equality of two strings. */
bool srv_ieq(const char *a, const char *b);
bool srv_ieqn(const char *a, size_t an, const char *b);

/* ------------------------------------------------------------ generators */

/* generate.c: value of column d at row i, wire bytes into out (cap >=
 * srv_gen_cap(d)). Returns the length or SRV_NULL_LEN. */
uint32_t srv_gen_value(const srv_coldef *d, uint16_t colno, uint64_t i, uint8_t *out, size_t cap);
size_t srv_gen_cap(const srv_coldef *d);
/* A column's generator with everything that does not depend on the row
 * worked out once (generate.c): the streaming hot path calls
 * srv_genplan_value per value instead of srv_gen_value, with the same
 * result. Plans point at their coldef, which must outlive them. */
typedef struct srv_genplan {
    const srv_coldef *d;
    int op;                  /* GP_* in generate.c */
    uint32_t null_every;     /* 0 unless the column is nullable and has null_every */
    int64_t start, step, modulo;
    uint16_t plen;           /* ASCII text prefix */
    uint16_t width;          /* pad the text to this many characters */
    uint32_t limit;          /* declared length in characters (UINT32_MAX: max) */
    bool wide, fixed;        /* UTF-16; char(n)/nchar(n) blank padding */
    char prefix[SRV_NAME_MAX + 64];
    /* wire bytes of the last text made: rows stream in order, so the next
     * text is usually the last one with its digits counted up in place */
    int64_t last_x;
    bool img_ok;             /* img holds last_x's text, digits uncut, x > 0 */
    uint16_t dig_start, dig_end; /* the digits, in characters */
    uint32_t img_len;        /* bytes */
    uint8_t img[512];        /* 2 * GP_TEXT_MAX */
} srv_genplan;
void srv_genplan_init(srv_genplan *p, const srv_coldef *d);
uint32_t srv_genplan_value(srv_genplan *p, uint64_t i, uint8_t *out, size_t cap);
/* Bytes a value of the plan can take: a big enough cap for
 * srv_genplan_value (tight for the fast kinds, srv_gen_cap otherwise). */
size_t srv_genplan_cap(const srv_genplan *p);
/* Row i of a generated table: each needed column c into buf + off[c]
 * (cap off[c+1] - off[c]), its view into vals[c]. */
void srv_genplan_row(srv_genplan *plans, uint16_t n, const bool *need, uint64_t i,
                     uint8_t *buf, const size_t *off, tds_value *vals);
/* Sets the documented defaults for a column's generator. */
void srv_gen_defaults(srv_coldef *d);
/* True when the column's generated values strictly increase with i and are
 * never NULL (lets ORDER BY that column stream without sorting). */
bool srv_gen_monotonic(const srv_coldef *d);

/* ------------------------------------------------------------ tables */

typedef struct srv_ct_entry {
    uint64_t version;
    uint64_t key_off;       /* offset of the key blob in ct_keys */
    uint32_t key_len;
    char op;                /* 'I', 'U', 'D' */
} srv_ct_entry;

typedef struct srv_database srv_database;

typedef struct srv_table {
    int refs;
    srv_database *dbp;
    char schema[SRV_NAME_MAX], name[SRV_NAME_MAX];
    int32_t object_id;
    srv_coldef *cols;
    uint16_t ncols;
    int pk[SRV_MAX_PK];     /* column indexes of the primary key */
    int npk;
    char pk_name[SRV_NAME_MAX];
    bool generated;
    uint64_t gen_rows;
    /* stored rows */
    uint8_t *heap;
    size_t heap_len, heap_cap;
    uint64_t *rows;         /* heap offsets of live rows, in order */
    size_t nrows, cap_rows;
    /* primary-key hash index: slot = heap offset + 1, 0 = empty */
    uint64_t *idx;
    size_t idx_cap;
    bool idx_dirty;
    /* change tracking */
    bool ct_enabled, ct_track_columns;
    uint64_t ct_begin_version;
    srv_ct_entry *ct;
    size_t nct, cap_ct;
    uint8_t *ct_keys;
    size_t ct_keys_len, ct_keys_cap;
    /* transaction undo (saved at the first change inside a transaction) */
    bool undo_saved;
    uint64_t *undo_rows;
    size_t undo_nrows, undo_nct;
    struct srv_partfn *partfn;  /* partition function (exec_partfn.c), NULL: not partitioned */
} srv_table;

/* table.c */
srv_table *srv_table_new(const char *schema, const char *name, const srv_coldef *cols, uint16_t n);
void srv_table_ref(srv_table *t);
void srv_table_unref(srv_table *t);
/* Row access: fills vals (ncols views) for the row at heap offset off. */
void srv_table_row(const srv_table *t, uint64_t off, tds_value *vals);
/* Appends a row blob built from views (NULL flag honoured). Returns the
 * heap offset, or UINT64_MAX on out-of-memory. Does not touch rows/idx. */
uint64_t srv_table_heap_put(srv_table *t, const tds_value *vals);
/* Appends a row to the row list (and the PK index). Returns 0 or -1. */
int srv_table_append(srv_table *t, uint64_t off);
/* Looks up a key (PK column views in PK order). Returns heap offset or
 * UINT64_MAX. */
uint64_t srv_table_pk_find(srv_table *t, const tds_value *keyvals);
/* Rebuilds the PK index after rows changed. */
int srv_table_reindex(srv_table *t);
/* Truncates the row list. */
void srv_table_clear(srv_table *t);
int srv_table_colno(const srv_table *t, const char *name);
/* Key text "(1, abc)" of the row's PK for error 2627. */
void srv_table_key_text(const srv_table *t, const tds_value *vals, char *buf, size_t cap);
/* Materialises a generated table into stored rows. */
int srv_table_materialize(srv_table *t);
/* Append row built from srv_vals (converted per column). Returns 0 or a
 * negative SQL error number as sv_to_wire. */
int srv_table_insert_vals(srv_table *t, const srv_val *vals, uint64_t *off_out);

/* ------------------------------------------------------------ databases */

struct srv_database {
    char name[SRV_NAME_MAX];
    int32_t id;
    bool ct_enabled, ct_auto_cleanup;
    int32_t ct_retention;   /* days */
    bool snapshot_isolation;
    bool rcsi;
    uint64_t ct_version;    /* current version (last committed change) */
    uint64_t ct_min_valid;  /* set by tdstestd_ct_cleanup */
    char (*schemas)[SRV_NAME_MAX];
    size_t nschemas;
    srv_table **tables;
    size_t ntables;
    struct srv_cdc_db *cdc;  /* Change Data Capture state (exec_cdc*.c), NULL until enabled */
};

typedef struct srv_login_def {
    char user[SRV_NAME_MAX], password[SRV_NAME_MAX], database[SRV_NAME_MAX];
    char token[512];
} srv_login_def;

typedef struct srv_rule srv_rule;   /* scenario.c */

typedef struct srv_faults {
    uint64_t close_after_rows, error_after_rows, malformed_after_rows, stall_after_rows;
    bool stall;
} srv_faults;

struct srv_db {
    srv_settings settings;
    char server_name[SRV_NAME_MAX];
    char route_host[256];
    char version_text[512];
    srv_database **dbs;
    size_t ndbs;
    srv_login_def *logins;
    size_t nlogins;
    srv_rule *rules;
    size_t nrules;
    srv_faults faults;       /* scenario-wide defaults for new connections */
    srv_wire_faults wire;
    int32_t next_object_id;
    uint16_t next_spid;
};

struct srv_conn {
    srv_db *db;
    srv_database *cur;
    uint16_t spid;
    bool nocount, fmtonly;
    int isolation;           /* 0 read committed, 1 snapshot, … */
    int trancount;
    uint64_t tran_id;
    uint64_t tran_version;   /* CT version given to this transaction's changes (0 = none yet) */
    srv_table **tran_tables; /* tables with saved undo */
    size_t ntran_tables;
    uint64_t tran_saved_version;
    uint64_t stmt_version;   /* CT version of the running autocommit statement (0 = none yet) */
    int64_t rowcount;        /* @@ROWCOUNT */
    uint8_t json_ver;        /* JSONSUPPORT acked at login (0: json goes out as nvarchar(max)) */
    uint8_t vector_ver;      /* VECTORSUPPORT acked at login (0: vector goes out as varchar(max)) */
    srv_faults faults;
    srv_wire_faults wire;
    /* bulk load armed by INSERT BULK */
    srv_table *bulk_table;
    int bulk_map[SRV_MAX_COLS]; /* incoming column → table column */
    uint16_t bulk_n;
    uint64_t *bulk_rows;     /* heap offsets appended but not yet listed */
    size_t bulk_nrows, bulk_cap;
    int32_t bulk_err;
    char bulk_errmsg[512];
    uint64_t bulk_heap_mark;
    uint64_t bulk_seen;      /* bulk rows received on this connection (faults) */
    struct cdc_tx *cdc_tx;   /* uncommitted CDC changes (exec_cdc.c) */
};

srv_database *srv_db_find(srv_db *db, const char *name);
srv_database *srv_database_new(srv_db *db, const char *name);
srv_table *srv_table_find(srv_database *d, const char *schema, const char *name);
int srv_database_add_table(srv_db *db, srv_database *d, srv_table *t);
void srv_database_drop_table(srv_database *d, srv_table *t);
bool srv_schema_exists(const srv_database *d, const char *schema);
int srv_schema_add(srv_database *d, const char *schema);
int32_t srv_schema_id(const srv_database *d, const char *schema);

/* ------------------------------------------------------------ lexer */

typedef enum sql_tok_type {
    TK_EOF = 0, TK_IDENT, TK_QIDENT, TK_VAR, TK_NUM, TK_STR, TK_BIN, TK_OP,
} sql_tok_type;

typedef struct sql_tok {
    sql_tok_type t;
    const char *p;          /* source text (for IDENT/OP/NUM as written) */
    size_t n;
    char *text;             /* unquoted identifier / unescaped string (arena) */
    size_t tlen;
    bool unicode;           /* N'…' */
    size_t off;             /* byte offset in the batch */
} sql_tok;

/* Tokenizes sql into *toks (malloc'd, ended by TK_EOF). Strings are
 * unescaped into a malloc'd text block *textmem. Returns the count or -1
 * with *err_off at an unterminated string/comment. */
int sql_lex(const char *sql, size_t len, sql_tok **toks, char **textmem, size_t *err_off);

/* ------------------------------------------------------------ parser */

typedef enum expr_type {
    EX_LIT, EX_COL, EX_VAR, EX_SYSVAR, EX_FUNC, EX_STAR, EX_CAST, EX_NEG,
    EX_WINDOW,              /* ROW_NUMBER() OVER (PARTITION BY … ORDER BY …) */
} expr_type;

struct sql_order;
struct sql_select;
struct sql_where;

typedef struct sql_expr sql_expr;
struct sql_expr {
    expr_type t;
    srv_val lit;            /* EX_LIT */
    char parts[3][SRV_NAME_MAX]; /* EX_COL: [qualifier…] name; EX_VAR/SYSVAR/FUNC: name in parts[0] */
    int nparts;
    sql_expr *args[4];      /* EX_FUNC / EX_CAST / EX_NEG */
    int nargs;
    bool star_arg;          /* COUNT(*) */
    srv_coldef cast;        /* EX_CAST target */
    /* EX_WINDOW: the function is parts[0] */
    struct sql_expr **win_part;
    int nwin_part;
    struct sql_order *win_order;
    int nwin_order;
    /* bound by the executor: source src, column col of the query up
     * levels out (0: this query; > 0: an outer query of a correlated
     * subquery); EX_WINDOW: col is the window's index */
    int src, col, up;
};

typedef enum pred_op {
    P_EQ, P_NE, P_LT, P_LE, P_GT, P_GE, P_BETWEEN, P_ISNULL, P_NOTNULL, P_TRUE, P_FALSE,
    P_OR,                   /* any of sub[0..nsub) (each AND-ed) */
    P_NOT,                  /* NOT sub[0] */
    P_EXISTS,               /* EXISTS (query) */
} pred_op;
typedef struct sql_pred {
    pred_op op;
    sql_expr *a, *b, *c;
    struct sql_where *sub;
    int nsub;
    struct sql_select *query;
} sql_pred;

typedef struct sql_where {
    sql_pred *p;
    int n;                  /* AND-ed */
} sql_where;

typedef struct sql_tref {
    char parts[3][SRV_NAME_MAX]; /* db, schema, name (empty when absent) */
    char alias[SRV_NAME_MAX];
    bool changetable;       /* CHANGETABLE(CHANGES parts, ct_since) */
    sql_expr *ct_since;
    int join;               /* 0 FROM, 1 INNER JOIN, 2 LEFT JOIN */
    sql_where on;
    struct sql_select *sub; /* derived table "(SELECT …) AS a" or a CTE */
    bool tvf;               /* table-valued function: parts(tvf_args…), e.g. cdc.fn_cdc_get_all_changes_x */
    sql_expr *tvf_args[4];
    int ntvf;
} sql_tref;

typedef struct sql_item {
    sql_expr *e;
    char alias[SRV_NAME_MAX];
} sql_item;

typedef struct sql_order {
    sql_expr *e;
    bool desc;
} sql_order;

typedef struct sql_select {
    sql_expr *top;          /* NULL: no TOP */
    sql_item *items;
    int nitems;
    sql_tref *from;
    int nfrom;
    sql_where where;
    sql_order *order;
    int norder;
} sql_select;

typedef struct sql_assign {
    char col[SRV_NAME_MAX];
    sql_expr *e;
} sql_assign;

typedef enum stmt_type {
    ST_SELECT = 1, ST_SET, ST_USE, ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_INSERT,
    ST_INSERT_SELECT, ST_INSERT_BULK, ST_UPDATE, ST_DELETE, ST_TRUNCATE,
    ST_CREATE_TABLE, ST_CREATE_SCHEMA, ST_DROP_TABLE, ST_EXEC, ST_MERGE,
    ST_ALTER_DB, ST_ALTER_TABLE_CT, ST_NOOP, ST_RULE,
} stmt_type;

typedef struct sql_stmt {
    stmt_type t;
    size_t off, end;        /* source range */
    sql_select sel;         /* SELECT, INSERT…SELECT source, MERGE source */
    sql_tref target;        /* INSERT/UPDATE/DELETE/TRUNCATE/CREATE/DROP/ALTER TABLE/MERGE target */
    char word[SRV_NAME_MAX];  /* SET option / USE db / EXEC proc / schema name */
    char word2[SRV_NAME_MAX]; /* SET value / ALTER DATABASE option */
    bool flag;              /* SET … ON, IF EXISTS, ENABLE */
    char (*cols)[SRV_NAME_MAX]; /* INSERT column list */
    int ncols;
    sql_expr **vals;        /* INSERT VALUES rows × ncols(or table cols) */
    int nvalrows, nvalcols;
    sql_assign *set;        /* UPDATE SET / MERGE WHEN MATCHED */
    int nset;
    srv_coldef *defs;       /* CREATE TABLE / INSERT BULK columns */
    int ndefs;
    char pk_cols[SRV_MAX_PK][SRV_NAME_MAX];
    int npk;
    char pk_name[SRV_NAME_MAX];
    sql_where where;        /* UPDATE/DELETE */
    sql_expr **args;        /* EXEC arguments */
    char (*argnames)[SRV_NAME_MAX];
    int nargs;
    sql_where merge_on;     /* MERGE … ON */
    char merge_src_alias[SRV_NAME_MAX];
    char (*merge_ins_cols)[SRV_NAME_MAX];
    int nmerge_ins;
    sql_expr **merge_ins_vals;
    bool merge_matched, merge_notmatched, merge_delete_notmatched_src;
    int rule;               /* ST_RULE: index */
} sql_stmt;

typedef struct sql_batch {
    sql_stmt *stmts;
    int n;
    /* memory */
    void **allocs;
    size_t nallocs, cap_allocs;
    sql_tok *toks;
    char *textmem;
} sql_batch;

typedef struct sql_perr {
    int32_t number;
    char msg[512];
} sql_perr;

/* Parses a whole batch. Returns 0, or -1 with a 102/156 error in err. */
int sql_parse(const char *sql, size_t len, sql_batch *b, sql_perr *err);
void sql_batch_free(sql_batch *b);
void *sql_alloc(sql_batch *b, size_t n);

/* ------------------------------------------------------------ cursor */

/* One result set being streamed: sources joined, filtered, projected. */
typedef struct srv_rs srv_rs;

typedef struct srv_param {
    char name[SRV_NAME_MAX];
    srv_val v;
    uint8_t *mem;
} srv_param;

struct srv_cursor {
    srv_conn *c;
    char *sql;
    size_t sql_len;
    sql_batch batch;
    bool parsed;
    sql_perr perr;
    int next;               /* next statement */
    bool began, cancelled, aborted, finished, rpc;
    bool any_error;
    srv_rs *rs;             /* active result set */
    int rs_stmt;
    uint8_t done_token;     /* DONE or DONEINPROC */
    srv_param *params;
    int nparams;
    /* bulk end */
    bool bulk_end;
    uint64_t bulk_count;
    /* fault bookkeeping */
    uint64_t rows_sent;
    int fault;              /* SRV_CLOSE/SRV_STALL pending */
    /* row context for column references inside functions (exec_select.c) */
    int (*col_eval)(void *ctx, const sql_expr *e, srv_val *out, char *buf, size_t cap);
    void *col_ctx;
    int rule_part;
    /* scratch for value conversion */
    char scratch[8192];
    char scratch2[8192];
};

/* ------------------------------------------------------------ executors */

/* types2025.c: CREATE TABLE with json/vector on a server before 2025:
 * error 2715 put, -1; else 0. */
int srv_t25_refuse_defs(srv_cursor *cur, tds_session *s, const srv_coldef *defs, int n);
/* Messages (cursor.c). */
void srv_put_error(srv_cursor *cur, tds_session *s, int32_t number, uint8_t severity,
                   uint8_t state, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void srv_put_info(srv_cursor *cur, tds_session *s, int32_t number, uint8_t state, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Standard errors. */
void srv_err_object(srv_cursor *cur, tds_session *s, const char *name);   /* 208 */
void srv_err_column(srv_cursor *cur, tds_session *s, const char *name);   /* 207 */
void srv_err_syntax(srv_cursor *cur, tds_session *s, const char *near);   /* 102 */
void srv_err_convert(srv_cursor *cur, tds_session *s, int code, const srv_coldef *d, const char *table);
/* Statement DONE with MORE set when statements follow. */
void srv_put_done(srv_cursor *cur, tds_session *s, uint16_t status, uint16_t curcmd, uint64_t count);

/* Statement results: 0 done (DONE written), 1 a result set is streaming
 * (cur->rs set), -1 error written (statement failed, batch continues),
 * -2 error written and the batch is aborted. */
int exec_select(srv_cursor *cur, tds_session *s, const sql_select *sel);
int exec_session(srv_cursor *cur, tds_session *s, const sql_stmt *st);   /* SET/USE/BEGIN/COMMIT/ROLLBACK */
int exec_dml(srv_cursor *cur, tds_session *s, const sql_stmt *st);       /* INSERT/UPDATE/DELETE/MERGE/TRUNCATE */
int exec_ddl(srv_cursor *cur, tds_session *s, const sql_stmt *st);       /* CREATE/DROP/ALTER/INSERT BULK */
int exec_proc(srv_cursor *cur, tds_session *s, const sql_stmt *st);      /* EXEC */
int exec_rule(srv_cursor *cur, tds_session *s, const sql_stmt *st);

/* Streams the active result set. Returns SRV_DONE when finished (its
 * DONE written), SRV_MORE when the budget ran out, SRV_CLOSE/SRV_STALL on
 * faults. */
int srv_rs_step(srv_cursor *cur, tds_session *s, size_t budget);
void srv_rs_free(srv_rs *rs);
/* Builds a result set over a temporary table (catalog views, rules). */
int srv_rs_from_table(srv_cursor *cur, tds_session *s, srv_table *t);

/* Internal iteration for DML (INSERT…SELECT, UPDATE, DELETE, MERGE):
 * open a SELECT without a session, walk its tuples, read each source's
 * current row (reference and values), evaluate expressions in the row. */
srv_rs *srv_rs_open(srv_cursor *cur, const sql_select *sel, int32_t *err, char *msg, size_t cap);
/* The same inside an outer query (correlated subquery): names the inner
 * sources lack bind to parent's current row. */
srv_rs *srv_rs_open_in(srv_cursor *cur, const sql_select *sel, srv_rs *parent, int32_t *err, char *msg, size_t cap);
int srv_rs_next(srv_rs *rs);
uint64_t srv_rs_ref(const srv_rs *rs, int k);
const tds_value *srv_rs_src_vals(const srv_rs *rs, int k);
srv_table *srv_rs_src_table(const srv_rs *rs, int k);
int srv_rs_eval(srv_rs *rs, sql_expr *e, srv_val *out, char *buf, size_t cap);
int srv_rs_project(srv_rs *rs, const tds_value **vals, const srv_coldef **defs);
/* The result's column definitions (before any row). Returns the count. */
int srv_rs_defs(const srv_rs *rs, const srv_coldef **defs);
void srv_rs_error(const srv_rs *rs, int32_t *err, char *msg, size_t cap);

/* Subqueries (exec_sub.c). */
/* A derived table or CTE reference run into a temporary table named name
 * (reference 1, not in any database); NULL with the SQL error. */
srv_table *sub_table(srv_cursor *cur, const sql_select *sel, const char *name, int32_t *err, char *msg, size_t cap);
/* EXISTS (p->query) for the current row of parent: 1, 0 or -1 with the
 * error. *cache (parent's, NULL at first) keeps what a correlated
 * equality subquery is answered from; sub_cache_free frees it. */
int sub_exists(srv_cursor *cur, const sql_pred *p, srv_rs *parent, void **cache, int32_t *err, char *msg, size_t cap);
void sub_cache_free(void *cache);

/* Equality-join index (exec_join.c): n rows sorted by nk keys that
 * keys(ctx, i, out) evaluates for row i (values valid until the next
 * call); rows with a NULL key are left out. keyidx_range gives the
 * positions [lo, hi) equal to probe (empty for a NULL probe; -1 with *inc
 * when the types do not compare); keyidx_row maps a position to its row
 * number, in row order within equal keys. */
typedef struct srv_keyidx srv_keyidx;
srv_keyidx *keyidx_build(size_t n, int nk, int (*keys)(void *ctx, size_t i, srv_val *out), void *ctx);
int keyidx_range(const srv_keyidx *x, const srv_val *probe, size_t *lo, size_t *hi, bool *inc);
size_t keyidx_row(const srv_keyidx *x, size_t j);
void keyidx_free(srv_keyidx *x);

/* Window functions (exec_window.c). */
#define SQL_WIN_MAX_KEYS (SRV_MAX_PK + 16)
/* ROW_NUMBER() OVER (PARTITION BY npart keys ORDER BY norder keys) of nt
 * tuples into rn: keys(ctx, i, out) evaluates tuple i's npart + norder
 * keys (partition first; values only valid until the next call); desc
 * per key. Ties keep the tuples' order. 0 or -1 (out of memory or keys'
 * error). */
int window_row_number(size_t nt, int npart, int norder, const bool *desc,
                      int (*keys)(void *ctx, size_t i, srv_val *out), void *ctx, int64_t *rn);

/* Catalog (exec_catalog.c): builds the temporary table for a system view
 * name ("information_schema.columns", "sys.tables", …) of database d, or
 * NULL when the name is not a catalog view. */
srv_table *catalog_table(srv_conn *c, srv_database *d, const char *schema, const char *name);

/* Partitioned tables (exec_partfn.c): a scenario table's
 * "partition_function" into t->partfn (0, or -1 with err); the views
 * sys.partition_functions/_schemes/_range_values (NULL: not one); for
 * sys.indexes the data_space_id, for sys.index_columns the
 * partition_ordinal of column col and the partitioning column when it is
 * not a key column (-1: none). */
typedef struct srv_partfn srv_partfn;
int srv_partfn_from_json(srv_table *t, const void *cjson, char *err, size_t cap);
void srv_partfn_free(srv_partfn *f);
srv_table *srv_partfn_view(const srv_database *d, const char *name);
int srv_partfn_space_id(const srv_database *d, const srv_table *t);
int srv_partfn_ordinal(const srv_table *t, int col);
int srv_partfn_extra_column(const srv_table *t);

/* Change tracking (exec_ct.c). */
/* Records a change of the row with views vals (full row) in t. */
int ct_record(srv_conn *c, srv_table *t, const tds_value *vals, char op);
/* Builds CHANGETABLE(CHANGES t, since) as a temporary table. Errors are
 * returned as SQL numbers (<0) with message in msg. */
srv_table *ct_changes(srv_conn *c, srv_table *t, int64_t since, int32_t *err, char *msg, size_t cap);
int64_t ct_min_valid(const srv_table *t);
/* TRUNCATE TABLE of a tracked table: its change log is gone, so the
 * minimum valid version moves to the truncation's own (new) version. */
void ct_truncate(srv_conn *c, srv_table *t);
/* Transaction hooks (exec_dml.c). */
int tran_touch(srv_conn *c, srv_table *t);   /* save undo before a change */
void tran_commit(srv_conn *c);
void tran_rollback(srv_conn *c);

/* Scalar expression evaluation without a row (functions, variables). */
int eval_const(srv_cursor *cur, const sql_expr *e, srv_val *out, char *buf, size_t cap,
               int32_t *err, char *msg, size_t msgcap);
/* Result column metadata of a constant expression. */
void expr_coldef(const sql_expr *e, const srv_val *v, srv_coldef *out);

/* Name resolution helpers (exec_select.c). */
srv_table *resolve_table(srv_cursor *cur, const sql_tref *r, srv_database **dbout, bool *temp);
/* Current database of a three-part name. */
srv_database *resolve_db(srv_cursor *cur, const sql_tref *r);

/* Rules (scenario.c): index of the first rule matching the batch text or -1. */
int srv_rule_match(const srv_db *db, const char *sql);
int srv_rule_run(srv_cursor *cur, tds_session *s, int rule);

/* Scenario helpers. */
srv_table *srv_table_from_json(srv_db *db, const void *cjson, char *err, size_t cap);

#endif
