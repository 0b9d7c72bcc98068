/*
 * mssql_types2025.c — the SQL Server destination and SQL Server 2025's
 * json / vector(n) columns: a target that knows the types gets them
 * (mssql_type.c names them); one that does not (before 2025) gets
 * nvarchar(max) / varchar(max) holding the same text, as SQL Server itself
 * gives such values to older clients. Known = `SELECT CAST(NULL AS json)`
 * (and `vector(1)`) succeed on the load's connection, asked once per
 * connection before the load's first statement.
 *
 * Invariant: the rewritten columns keep their source form in m->t25_src,
 * so the bulk channel (mssql_bulk.c) still reads the values as json/vector.
 */
#include <stdlib.h>

#include "mssql_int.h"

/* Does the target know the type? A failed probe (a server error) says no;
 * the connection stays usable. */
static bool knows(ms_sink *m, const char *sql)
{
    net_error ne;
    memset(&ne, 0, sizeof ne);
    net_result_cb cb = {0};
    return net_client_batch(m->cl, sql, &cb, NULL, &ne) == NET_OK;
}

static int probe(ms_sink *m)
{
    if (m->t25_cl == m->cl)
        return SINK_OK;
    if (!m->cl && sink__ms_run(m, "SET NOCOUNT ON", "connect")) /* reconnects */
        return SINK_E_DEST;
    m->t25_json = knows(m, "SELECT CAST(NULL AS json)");
    m->t25_vector = knows(m, "SELECT CAST(NULL AS vector(1))");
    if (!net_conn_is_open(net_client_conn(m->cl)))
        return sink__fail(&m->q.base, SINK_E_DEST, "mssql: the connection was lost while probing the target's types");
    m->t25_cl = m->cl;
    return SINK_OK;
}

int sink__ms_t25_adapt(ms_sink *m)
{
    sink_schema *sc = &m->q.sc;
    free(m->t25_src);
    m->t25_src = NULL;
    bool any = false;
    for (size_t i = 0; i < sc->ncols; i++)
        any |= sc->cols[i].kind == TDS_K_JSON || sc->cols[i].kind == TDS_K_VECTOR;
    if (!any)
        return SINK_OK;
    int rc = probe(m);
    if (rc)
        return rc;
    for (size_t i = 0; i < sc->ncols; i++) {
        tds_column *c = &sc->cols[i];
        bool j = c->kind == TDS_K_JSON;
        if (!(j ? !m->t25_json : c->kind == TDS_K_VECTOR && !m->t25_vector))
            continue;
        if (!m->t25_src && !(m->t25_src = sink__calloc(sc->ncols, sizeof *m->t25_src)))
            return sink__sql_nomem(&m->q);
        m->t25_src[i] = *c;
        tds_column t;
        tds_column_init(&t, j ? TDS_T_NVARCHAR : TDS_T_BIGVARCHR, 0xFFFF, 0, 0);
        t.name = c->name;
        t.table = c->table;
        t.flags = c->flags;
        t.ordinal = c->ordinal;
        *c = t;
    }
    return SINK_OK;
}

const tds_column *sink__ms_t25_src(const ms_sink *m, size_t i)
{
    return m->t25_src && m->t25_src[i].kind ? &m->t25_src[i] : &m->q.sc.cols[i];
}
