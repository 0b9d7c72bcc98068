/*
 * column.c — building column metadata from a type id (tds_column_init) and
 * the one place that knows which value lengths each type allows
 * (tds__value_kind / tds__value_check).
 *
 * Invariants: the nullable "N" types (INTN, FLTN, MONEYN, DATETIMN, BITN)
 * are read by the length of each value, so an INTN(8) column may carry a
 * 4-byte value; fixed types and the scaled date/time types must have
 * exactly their size. Every length comes from the peer and is checked here
 * before a byte is read.
 */
#include "value_int.h"

void tds__collation_default(tds_collation *c)
{
    static const uint8_t raw[5] = { 0x09, 0x04, 0xD0, 0x00, 0x34 };
    memcpy(c->raw, raw, 5);
    c->lcid = 0x0409;
    c->flags = 0x0D;   /* ignore case, width, kana */
    c->version = 0;
    c->sort_id = 0x34; /* 52: SQL_Latin1_General_CP1_CI_AS order, cp 1252 */
    c->codepage = 1252;
}

/* Kind of a sized "N" type from a byte length, or 0. */
/* Kind and fixed size of a type id; *fixed = 0 for variable types. */
static int type_kind(uint8_t type, uint32_t *fixed)
{
    *fixed = 0;
    switch (type) {
    case TDS_T_INT1: *fixed = 1; return TDS_K_TINYINT;
    case TDS_T_INT2: *fixed = 2; return TDS_K_SMALLINT;
    case TDS_T_INT4: *fixed = 4; return TDS_K_INT;
    case TDS_T_INT8: *fixed = 8; return TDS_K_BIGINT;
    case TDS_T_BIT: *fixed = 1; return TDS_K_BIT;
    case TDS_T_FLT4: *fixed = 4; return TDS_K_REAL;
    case TDS_T_FLT8: *fixed = 8; return TDS_K_FLOAT;
    case TDS_T_MONEY4: *fixed = 4; return TDS_K_SMALLMONEY;
    case TDS_T_MONEY: *fixed = 8; return TDS_K_MONEY;
    case TDS_T_DATETIM4: *fixed = 4; return TDS_K_SMALLDATETIME;
    case TDS_T_DATETIME: *fixed = 8; return TDS_K_DATETIME;
    case TDS_T_DECIMAL: case TDS_T_NUMERIC:
    case TDS_T_DECIMALN: case TDS_T_NUMERICN: return TDS_K_DECIMAL;
    case TDS_T_DATEN: return TDS_K_DATE;
    case TDS_T_TIMEN: return TDS_K_TIME;
    case TDS_T_DATETIME2N: return TDS_K_DATETIME2;
    case TDS_T_DATETIMEOFFSETN: return TDS_K_DATETIMEOFFSET;
    case TDS_T_GUID: return TDS_K_GUID;
    case TDS_T_CHAR: case TDS_T_VARCHAR: case TDS_T_BIGCHAR:
    case TDS_T_BIGVARCHR: case TDS_T_TEXT: return TDS_K_CHAR;
    case TDS_T_NCHAR: case TDS_T_NVARCHAR: case TDS_T_NTEXT: return TDS_K_NCHAR;
    case TDS_T_BINARY: case TDS_T_VARBINARY: case TDS_T_BIGBINARY:
    case TDS_T_BIGVARBIN: case TDS_T_IMAGE: return TDS_K_BINARY;
    case TDS_T_XML: return TDS_K_XML;
    case TDS_T_UDT: return TDS_K_UDT;
    case TDS_T_VARIANT: return TDS_K_VARIANT;
    case TDS_T_JSON: return TDS_K_JSON;
    case TDS_T_VECTOR: return TDS_K_VECTOR;
    default: return 0; /* N types and unknown ids */
    }
}

int tds_column_init(tds_column *c, uint8_t type, uint32_t max_len,
                    uint8_t precision, uint8_t scale)
{
    if (!c)
        return TDS_E_ARG;
    memset(c, 0, sizeof *c);
    c->type = type;
    c->flags = TDS_COL_NULLABLE;
    uint32_t fixed;
    int kind = type_kind(type, &fixed);
    if (!kind) {
        if (type == TDS_T_NULL) {
            c->kind = TDS_K_UNKNOWN;
            return TDS_OK;
        }
        kind = tds__n_kind(type, max_len);
        if (!kind)
            return TDS_E_ARG;
        fixed = max_len;
    }
    c->kind = (uint8_t)kind;
    c->max_len = fixed ? fixed : max_len;

    switch (kind) {
    case TDS_K_DECIMAL:
        if (precision < 1 || precision > 38 || scale > precision)
            return TDS_E_ARG;
        c->precision = precision;
        c->scale = scale;
        if (max_len == 0)
            c->max_len = 1 + tds__decimal_mag_len(precision);
        /* SQL Server sends 5, 9, 13 or 17; FreeTDS sizes the magnitude by
         * precision (numeric(5,2) as 4 bytes), so any 2..17 is accepted. */
        else if (max_len < 2 || max_len > 17)
            return TDS_E_ARG;
        break;
    case TDS_K_SMALLMONEY: c->precision = 10; c->scale = 4; break;
    case TDS_K_MONEY: c->precision = 19; c->scale = 4; break;
    case TDS_K_DATETIME: c->scale = 3; break;
    case TDS_K_DATE: c->max_len = 3; break;
    case TDS_K_TIME: case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET:
        if (scale > 7)
            return TDS_E_ARG;
        c->scale = scale;
        c->max_len = tds__time_len(scale) + (kind == TDS_K_TIME ? 0 : kind == TDS_K_DATETIME2 ? 3 : 5);
        break;
    case TDS_K_GUID: c->max_len = 16; break;
    case TDS_K_CHAR: case TDS_K_NCHAR:
        tds__collation_default(&c->collation);
        c->is_plp = (type == TDS_T_BIGVARCHR || type == TDS_T_NVARCHAR) && max_len == 0xFFFF;
        break;
    case TDS_K_BINARY:
        c->is_plp = type == TDS_T_BIGVARBIN && max_len == 0xFFFF;
        break;
    case TDS_K_XML:
        c->is_plp = true;
        c->max_len = 0xFFFF;
        break;
    case TDS_K_UDT:
        /* TDS 7.2+ always sends CLR UDT values as PLP, whatever MaxByteSize. */
        c->is_plp = true;
        if (max_len == 0)
            c->max_len = 0xFFFF;
        break;
    case TDS_K_VARIANT:
        if (max_len == 0)
            c->max_len = 8016;
        break;
    case TDS_K_JSON: /* PLP UTF-8, no length or collation in TYPE_INFO */
        c->is_plp = true;
        c->max_len = 0xFFFF;
        break;
    case TDS_K_VECTOR: { /* max_len = header + dims * element size; scale = element type */
        unsigned es = tds_vector_elem_size(scale);
        if (!es || max_len <= TDS_VECTOR_HEADER || max_len > TDS_VECTOR_MAX_BYTES ||
            (max_len - TDS_VECTOR_HEADER) % es)
            return TDS_E_ARG;
        c->vector_elem = scale;
        c->vector_dims = (uint16_t)((max_len - TDS_VECTOR_HEADER) / es);
        break;
    }
    default:
        break;
    }
    return TDS_OK;
}

/* Everything but the N types (tds__value_kind answers those inline). */
int tds__value_kind_other(const tds_column *c, uint32_t len)
{
    uint32_t fixed;
    int kind = type_kind(c->type, &fixed);
    if (!kind)
        return TDS_E_TYPE; /* the N types never get here */
    if (fixed)
        return len == fixed ? kind : TDS_E_PROTO;
    switch (kind) {
    case TDS_K_DECIMAL:
        return len >= 2 && len <= 17 && (c->max_len == 0 || len <= c->max_len) ? kind : TDS_E_PROTO;
    case TDS_K_DATE:
        return len == 3 ? kind : TDS_E_PROTO;
    case TDS_K_TIME: case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET:
        if (c->scale > 7)
            return TDS_E_PROTO;
        return len == tds__time_len(c->scale) + (kind == TDS_K_TIME ? 0 : kind == TDS_K_DATETIME2 ? 3 : 5)
             ? kind : TDS_E_PROTO;
    case TDS_K_GUID:
        return len == 16 ? kind : TDS_E_PROTO;
    case TDS_K_NCHAR: case TDS_K_XML:
        return (len & 1) ? TDS_E_PROTO : kind;
    case TDS_K_VARIANT:
        return len >= 2 && len <= 8016 ? kind : TDS_E_PROTO;
    case TDS_K_VECTOR:
        return len == c->max_len ? kind : TDS_E_PROTO;
    default:
        return kind;
    }
}

int tds__value_check(const tds_column *c, uint32_t len)
{
    int k = tds__value_kind(c, len);
    return k < 0 ? k : TDS_OK;
}
