/*
 * discard.c — decodes every value into its typed form (integers, doubles,
 * exact decimals, date/times, GUIDs; text transcoded to UTF-8, sql_variant
 * to its text) and writes nothing: measures the engine and the decoding
 * every sink does, without any destination cost. Accepts every strategy.
 */
#include <stdlib.h>

#include "sink_int.h"

typedef struct discard_sink {
    sink base;
    sink_schema sc;
    sink_buf text;
    uint64_t rows, bytes;
} discard_sink;

static int discard_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    (void)target;
    (void)o;
    discard_sink *d = sink__calloc(1, sizeof *d);
    if (!d)
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    *out = &d->base;
    return SINK_OK;
}

static int discard_begin(sink *s, const sink_table *t)
{
    discard_sink *d = (discard_sink *)s;
    if (t->cdc) /* its cursor would have nowhere to live */
        return sink__fail(s, SINK_E_UNSUPPORTED, "discard keeps no state: Change Tracking needs a database destination");
    sink__schema_free(&d->sc);
    d->rows = d->bytes = 0;
    return sink__schema_copy(&d->sc, t) ? sink__fail(s, SINK_E_NOMEM, "out of memory") : SINK_OK;
}

static int decode(discard_sink *d, const tds_column *c, const tds_value *v)
{
    int64_t i;
    double f;
    tds_decimal dec;
    tds_datetime dt;
    uint8_t g[16];
    int rc;
    if (v->flags & TDS_VF_STREAMED)
        return SINK_E_VALUE;
    switch (c->kind) {
    case TDS_K_TINYINT: case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT: case TDS_K_BIT:
        rc = tds_value_int(c, v, &i);
        d->bytes += 8;
        break;
    case TDS_K_REAL: case TDS_K_FLOAT:
        rc = tds_value_float(c, v, &f);
        d->bytes += 8;
        break;
    case TDS_K_SMALLMONEY: case TDS_K_MONEY: case TDS_K_DECIMAL:
        rc = tds_value_decimal(c, v, &dec);
        d->bytes += 16;
        break;
    case TDS_K_SMALLDATETIME: case TDS_K_DATETIME: case TDS_K_DATE: case TDS_K_TIME:
    case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET:
        rc = tds_value_datetime(c, v, &dt);
        d->bytes += 8;
        break;
    case TDS_K_GUID:
        rc = tds_value_guid(c, v, g);
        d->bytes += 16;
        break;
    case TDS_K_BINARY: case TDS_K_UDT:
        d->bytes += v->len;
        return SINK_OK;
    default: /* text, xml, sql_variant: UTF-8 as every text sink makes it */
        d->text.len = 0;
        rc = sink__value_text(&d->text, c, v);
        d->bytes += d->text.len;
        return rc;
    }
    return rc ? SINK_E_VALUE : SINK_OK;
}

static int discard_append(sink *s, const sink_batch *b)
{
    discard_sink *d = (discard_sink *)s;
    size_t nc = d->sc.ncols;
    for (size_t r = 0; r < b->nrows; r++) {
        const tds_value *row = b->values + r * nc;
        for (size_t i = 0; i < nc; i++) {
            if (row[i].flags & TDS_VF_NULL)
                continue;
            int rc = decode(d, &d->sc.cols[i], &row[i]);
            if (rc)
                return sink__fail(s, rc, "column %s: value cannot be decoded", d->sc.names[i]);
        }
    }
    d->rows += b->nrows;
    return SINK_OK;
}

static int discard_commit(sink *s) { (void)s; return SINK_OK; }
static void discard_abort(sink *s) { (void)s; }

static void discard_close(sink *s)
{
    discard_sink *d = (discard_sink *)s;
    sink__schema_free(&d->sc);
    sink__buf_free(&d->text);
    free(d);
}

const sink_vtable sink_discard_vtable = {
    .scheme = "discard",
    .open = discard_open,
    .begin = discard_begin,
    .append = discard_append,
    .commit = discard_commit,
    .abort = discard_abort,
    .close = discard_close,
};
