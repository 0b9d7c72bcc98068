/*
 * exec_select_int.h — the result set's internals (srv_rs, its sources and
 * outputs), shared by the files that run a SELECT: exec_select.c (sources,
 * binding, joins, sorting, streaming), exec_where.c (search conditions),
 * exec_window.c (window functions), exec_join.c (equality-join index).
 * Nothing outside those files looks inside a srv_rs.
 */
#ifndef TDSTESTD_EXEC_SELECT_INT_H
#define TDSTESTD_EXEC_SELECT_INT_H

#include "query_int.h"

#define MAX_SRC 8
#define NULL_ROW UINT64_MAX

enum { M_STREAM, M_LIST, M_ONE };
enum { OUT_COL, OUT_CONST, OUT_EXPR, OUT_AGG };

typedef struct rs_src {
    srv_table *t;
    const sql_tref *ref;
    tds_value *vals;
    uint8_t *genbuf;
    size_t *genoff;
    srv_genplan *plans;      /* generated: one per column */
    bool *need;
    uint64_t *snap;          /* stored: row offsets at statement start */
    size_t nsnap;
    bool user;               /* a user table (for snapshot checks) */
    int pk_join;             /* 1: join probes the PK index */
    const sql_expr *pk_other[SRV_MAX_PK];
    /* else an equality join through a sorted key index (exec_join.c),
     * built at the first probe */
    int nek;
    sql_expr *ek_mine[SRV_MAX_PK], *ek_other[SRV_MAX_PK];
    srv_keyidx *kidx;
} rs_src;

typedef struct rs_out {
    int kind;
    const sql_expr *e;
    int agg;                 /* 1 count, 2 min, 3 max */
    srv_val acc;
    bool acc_set;
    uint8_t *accbuf;
    uint64_t count;
} rs_out;

struct srv_rs {
    srv_cursor *cur;
    rs_src src[MAX_SRC];
    int nsrc;
    srv_coldef *odefs;
    tds_column *ocols;
    tds_value *ovals;
    rs_out *outs;
    int nout;
    const sql_where *where;
    int mode;
    uint64_t pos, end;
    bool reverse;
    bool where_exact;        /* exec_range.c: [pos, end) is exactly the WHERE's rows */
    uint64_t *list;
    size_t nlist;
    int64_t top;
    uint64_t emitted;
    bool meta_sent, fmtonly, done;
    bool direct;             /* output = source 0's columns in order (no projection) */
    bool catalog;            /* every source a catalog view (sys., INFORMATION_SCHEMA.): no faults */
    uint8_t *obuf;
    size_t obuf_cap;
    uint8_t *onebuf;
    int32_t err;
    char errmsg[512];
    uint64_t curref[MAX_SRC];
    srv_rs *parent;          /* the outer query of a correlated subquery */
    int64_t **win;           /* per window item: the value of each listed tuple */
    int nwin;
    void *sub_cache;         /* EXISTS subqueries answered by lookup (exec_sub.c) */
    /* streaming hot path: one row plan, rows made in batches */
    tds_row_plan *plan;
    tds_value *bvals;        /* batch * nout views, row-major */
    uint8_t *bbuf;           /* generated: batch * bstride value bytes */
    size_t *boff;            /* generated: column offsets in a row's bytes */
    size_t bstride;
    unsigned batch;
    size_t row_bytes;        /* bytes per row in the last batch (0: none yet) */
    void *t25;               /* json/vector sent as text (types2025.c), NULL: none */
};

/* types2025.c: json/vector columns as text for a connection that did not
 * negotiate them (prepare before COLMETADATA; row before each row). */
int srv_t25_prepare(srv_rs *rs, const srv_conn *c);
bool srv_t25_active(const srv_rs *rs);
int srv_t25_row(srv_rs *rs, tds_value *vals);
void srv_t25_free(void *t25);

/* exec_select.c */
/* Loads row r (heap offset or generated index; NULL_ROW: all NULL) of
 * source k into its values. */
void rs_src_load(srv_rs *rs, int k, uint64_t r);
uint64_t rs_src_count(const rs_src *s);
uint64_t rs_src_ref(const rs_src *s, uint64_t i);
/* e in the sources' current rows (bound expressions). 0 or -1 (error in rs). */
int rs_eval(srv_rs *rs, const sql_expr *e, srv_val *out, char *buf, size_t cap);

/* exec_where.c: 1 true, 0 false or unknown, -1 error (in rs). */
int rs_where(srv_rs *rs, const sql_where *w);
/* exec_range.c: a streamed generated source's [pos, end) narrowed by the
 * WHERE's ranges on rising integer columns; true when every conjunct was
 * such a range (every row left matches). */
bool rs_stream_narrow(srv_rs *rs);
/* Every output is MIN or MAX of such a column. */
bool rs_minmax_ends(const srv_rs *rs);

/* exec_window.c: every window output's values over the listed tuples. */
int rs_windows(srv_rs *rs);

/* exec_join.c: marks source k for the key index when its ON clause has
 * equalities on it; rs_ek_range finds the current probe's rows. */
void rs_detect_eq_join(srv_rs *rs, int k);
int rs_ek_range(srv_rs *rs, int k, size_t *lo, size_t *hi);

#endif
