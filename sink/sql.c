/*
 * sql.c — SQL text in a dialect's spelling: quoted identifiers and
 * qualified names, column lists, string literals and CAST literals. Used
 * by the core's statements and by the backends' own lookups.
 */
#include "sql_int.h"

int sink__sql_ident(const sql_sink *q, sink_buf *b, const char *name)
{
    char open = q->d->quote[0], close = q->d->quote[1];
    if (sink__buf_putc(b, open))
        return SINK_E_NOMEM;
    for (const char *p = name; *p; p++)
        if ((*p == close && sink__buf_putc(b, close)) || sink__buf_putc(b, *p))
            return SINK_E_NOMEM;
    return sink__buf_putc(b, close);
}

int sink__sql_qname(const sql_sink *q, sink_buf *b, const char *schema, const char *t)
{
    if (schema && (sink__sql_ident(q, b, schema) || sink__buf_putc(b, '.')))
        return SINK_E_NOMEM;
    return sink__sql_ident(q, b, t);
}

int sink__sql_table(const sql_sink *q, sink_buf *b, const char *t)
{
    return sink__sql_qname(q, b, q->sc.schema, t);
}

int sink__sql_collist(const sql_sink *q, sink_buf *b, const char *qual)
{
    for (size_t i = 0; i < q->sc.ncols; i++) {
        if (i && sink__buf_puts(b, ", "))
            return SINK_E_NOMEM;
        if (qual && (sink__sql_ident(q, b, qual) || sink__buf_putc(b, '.')))
            return SINK_E_NOMEM;
        if (sink__sql_ident(q, b, q->sc.names[i]))
            return SINK_E_NOMEM;
    }
    return SINK_OK;
}

int sink__sql_bulk_cols(const sql_sink *q, sink_buf *b)
{
    if (sink__buf_puts(b, " (") || sink__sql_collist(q, b, NULL))
        return SINK_E_NOMEM;
    if (q->with_ord && (sink__buf_puts(b, ", ") || sink__sql_ident(q, b, SINK__ORD)))
        return SINK_E_NOMEM;
    return sink__buf_putc(b, ')');
}

bool sink__sql_in_pk(const sink_schema *sc, size_t i)
{
    for (size_t k = 0; k < sc->npk; k++)
        if (sc->pk[k] == i)
            return true;
    return false;
}

int sink__sql_string(sink_buf *b, const char *s, size_t n)
{
    if (sink__buf_reserve(b, 2 * n + 2))
        return SINK_E_NOMEM;
    char *o = b->p + b->len;
    *o++ = '\'';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'')
            *o++ = '\'';
        *o++ = s[i];
    }
    *o++ = '\'';
    b->len = (size_t)(o - b->p);
    return SINK_OK;
}

/* "0xABCD" (the canonical text of binary) as the dialect's binary literal */
static int binary_literal(sink_buf *b, const char *p, size_t n, const char *unhex)
{
    if (strcmp(unhex, "0x") == 0) /* T-SQL: the canonical text is the literal */
        return sink__buf_put(b, p, n);
    bool pg = strcmp(unhex, "decode_hex") == 0;
    int rc = sink__buf_puts(b, pg ? "decode" : unhex);
    rc |= sink__buf_putc(b, '(');
    rc |= sink__sql_string(b, p + 2, n - 2);
    rc |= sink__buf_puts(b, pg ? ", 'hex')" : ")");
    return rc;
}

int sink__sql_cast_literal(sink_buf *b, const tds_column *c, const tds_value *v, const char *type,
                           const char *unhex)
{
    sink_buf t = { 0 };
    int rc = sink__value_text(&t, c, v);
    if (rc) {
        sink__buf_free(&t);
        return rc;
    }
    const char *p = t.p ? t.p : "";
    size_t n = t.len;
    if (c->kind == TDS_K_BINARY || c->kind == TDS_K_UDT) {
        rc = binary_literal(b, p, n, unhex);
    } else {
        if (c->kind == TDS_K_DATETIMEOFFSET && n > 7 && p[n - 7] == ' ') {
            /* "… -05:30" → "…-05:30": the form every parser takes */
            memmove(t.p + n - 7, t.p + n - 6, 6);
            n--;
        }
        rc = sink__buf_puts(b, "CAST(");
        rc |= sink__sql_string(b, p, n);
        rc |= sink__buf_puts(b, " AS ");
        rc |= sink__buf_puts(b, type);
        rc |= sink__buf_putc(b, ')');
    }
    sink__buf_free(&t);
    return rc ? SINK_E_NOMEM : SINK_OK;
}
