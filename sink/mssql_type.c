/*
 * mssql_type.c — SQL Server column types for the mssql sink: the T-SQL
 * type of a tds_column (the source's own type when it came from SQL
 * Server: tinyint stays tinyint, varchar(50) keeps its length and
 * collation), key columns capped to what an index can hold, and the wire
 * description the BulkLoadBCP message uses for each column.
 *
 * Bulk rules ([MS-TDS] 2.2.6.1): xml travels as nvarchar(max), UDTs as
 * varbinary(max); text/ntext/image carry the table name in COLMETADATA.
 * json and vector(n) (SQL Server 2025) keep their types in the table and
 * travel as nvarchar(max) / varchar(max) text, converted by the server.
 */
#include <stdio.h>

#include "mssql_int.h"

/* Collation names for the raw collations SQL Server sends most. Others
 * get the database default (no COLLATE clause): a name cannot be derived
 * from an LCID and flags alone for every version. */
static const char *collation_name(const tds_collation *c)
{
    bool ci = c->flags & 0x01, ai = c->flags & 0x02;
    if (c->sort_id) {
        switch (c->sort_id) {
        case 52: return "SQL_Latin1_General_CP1_CI_AS";
        case 51: return "SQL_Latin1_General_CP1_CS_AS";
        case 54: return "SQL_Latin1_General_CP1_CI_AI";
        case 30: return "Latin1_General_BIN";
        default: return NULL;
        }
    }
    if (c->lcid != 0x0409)
        return NULL;
    if (c->flags & 0x04) /* UTF-8 (version 2 collations) */
        return ci ? (ai ? "Latin1_General_100_CI_AI_SC_UTF8" : "Latin1_General_100_CI_AS_SC_UTF8")
                  : (ai ? "Latin1_General_100_CS_AI_SC_UTF8" : "Latin1_General_100_CS_AS_SC_UTF8");
    if (c->version == 1)
        return ci ? (ai ? "Latin1_General_100_CI_AI" : "Latin1_General_100_CI_AS")
                  : (ai ? "Latin1_General_100_CS_AI" : "Latin1_General_100_CS_AS");
    if (c->version == 0)
        return ci ? (ai ? "Latin1_General_CI_AI" : "Latin1_General_CI_AS")
                  : (ai ? "Latin1_General_CS_AI" : "Latin1_General_CS_AS");
    return NULL;
}

static void with_collation(char *tmp, size_t cap, const tds_column *c, bool collate)
{
    const char *name = collate ? collation_name(&c->collation) : NULL;
    if (name) {
        size_t n = strlen(tmp);
        snprintf(tmp + n, cap - n, " COLLATE %s", name);
    }
}

const char *sink__ms_type(const tds_column *c, bool key, bool collate, char *tmp, size_t cap)
{
    unsigned fs = c->scale > 7 ? 7 : c->scale;
    bool max = c->is_plp || c->max_len == 0xFFFF;
    switch (c->kind) {
    case TDS_K_TINYINT: return "tinyint";
    case TDS_K_SMALLINT: return "smallint";
    case TDS_K_INT: return "int";
    case TDS_K_BIGINT: return "bigint";
    case TDS_K_BIT: return "bit";
    case TDS_K_REAL: return "real";
    case TDS_K_FLOAT: return "float";
    case TDS_K_SMALLMONEY: return "smallmoney";
    case TDS_K_MONEY: return "money";
    case TDS_K_DECIMAL:
        snprintf(tmp, cap, "%s(%u,%u)", c->type == TDS_T_NUMERICN || c->type == TDS_T_NUMERIC ? "numeric" : "decimal",
                 c->precision ? c->precision : 38, c->scale);
        return tmp;
    case TDS_K_DATE: return "date";
    case TDS_K_SMALLDATETIME: return "smalldatetime";
    case TDS_K_DATETIME: return "datetime";
    case TDS_K_DATETIME2: snprintf(tmp, cap, "datetime2(%u)", fs); return tmp;
    case TDS_K_TIME: snprintf(tmp, cap, "time(%u)", fs); return tmp;
    case TDS_K_DATETIMEOFFSET: snprintf(tmp, cap, "datetimeoffset(%u)", fs); return tmp;
    case TDS_K_GUID: return "uniqueidentifier";
    case TDS_K_CHAR:
        /* keys: at most 900 bytes in an index */
        if (c->type == TDS_T_TEXT)
            snprintf(tmp, cap, key ? "varchar(900)" : "text");
        else if (max || (key && c->max_len > 900))
            snprintf(tmp, cap, key ? "varchar(900)" : "varchar(max)");
        else
            snprintf(tmp, cap, "%s(%u)", c->type == TDS_T_BIGCHAR || c->type == TDS_T_CHAR ? "char" : "varchar",
                     c->max_len ? c->max_len : 1);
        with_collation(tmp, cap, c, collate);
        return tmp;
    case TDS_K_NCHAR:
        if (c->type == TDS_T_NTEXT)
            snprintf(tmp, cap, key ? "nvarchar(450)" : "ntext");
        else if (max || (key && c->max_len > 900))
            snprintf(tmp, cap, key ? "nvarchar(450)" : "nvarchar(max)");
        else
            snprintf(tmp, cap, "%s(%u)", c->type == TDS_T_NCHAR ? "nchar" : "nvarchar",
                     c->max_len >= 2 ? c->max_len / 2 : 1);
        with_collation(tmp, cap, c, collate);
        return tmp;
    case TDS_K_BINARY:
        if (c->type == TDS_T_IMAGE)
            return key ? "varbinary(900)" : "image";
        if (max || (key && c->max_len > 900))
            return key ? "varbinary(900)" : "varbinary(max)";
        snprintf(tmp, cap, "%s(%u)", c->type == TDS_T_BIGBINARY || c->type == TDS_T_BINARY ? "binary" : "varbinary",
                 c->max_len ? c->max_len : 1);
        return tmp;
    case TDS_K_XML: return key ? "nvarchar(450)" : "xml";
    case TDS_K_JSON: return key ? "nvarchar(450)" : "json";
    case TDS_K_VECTOR:
        if (key)
            return "varchar(900)";
        snprintf(tmp, cap, c->vector_elem == TDS_VEC_FLOAT16 ? "vector(%u, float16)" : "vector(%u)",
                 (unsigned)c->vector_dims);
        return tmp;
    case TDS_K_VARIANT: return "sql_variant";
    case TDS_K_UDT: return key ? "varbinary(900)" : "varbinary(max)";
    default: return "nvarchar(max)";
    }
}

int sink__ms_wire_col(tds_column *w, const tds_column *src, const char *name, const char *table)
{
    *w = *src;
    if (src->kind == TDS_K_JSON || src->kind == TDS_K_VECTOR) {
        /* As text, which the server converts into the target's json or
         * vector(n) whether or not this connection negotiated the types
         * (mssql_bulk.c makes the text). */
        if (tds_column_init(w, src->kind == TDS_K_JSON ? TDS_T_NVARCHAR : TDS_T_BIGVARCHR, 0xFFFF, 0, 0) != TDS_OK)
            return SINK_E_VALUE;
    } else if (src->kind == TDS_K_XML || src->kind == TDS_K_UDT) {
        /* same bytes, the type bulk load takes for them */
        if (tds_column_init(w, src->kind == TDS_K_XML ? TDS_T_NVARCHAR : TDS_T_BIGVARBIN, 0xFFFF, 0, 0) != TDS_OK)
            return SINK_E_VALUE;
        if (src->kind == TDS_K_XML)
            w->collation = src->collation;
    }
    /* Only nullability is the client's to say (identity, computed, key…
     * are the table's); FreeTDS's freebcp sends the same flags. */
    w->flags = (uint16_t)(src->flags & TDS_COL_NULLABLE);
    w->user_type = 0;
    w->name.ptr = name;
    w->name.len = strlen(name);
    w->table.ptr = table;
    w->table.len = table ? strlen(table) : 0;
    w->ordinal = src->ordinal;
    return SINK_OK;
}
