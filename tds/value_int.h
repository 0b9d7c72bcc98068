/*
 * value_int.h — internals shared by the value files (value.c,
 * value_encode.c, value_text.c, decimal.c, datetime.c, column.c,
 * c_locale.c).
 * Not part of the public API; the rest of the engine may use
 * tds__value_check() to validate a value's length against its column.
 *
 * Invariants: nothing here allocates; every function works on caller
 * buffers of fixed, documented size. Text helpers write NUL-terminated
 * ASCII and return the length without the NUL.
 */
#ifndef TDS_VALUE_INT_H
#define TDS_VALUE_INT_H

#include <locale.h>

#include "tds_int.h"

/* Longest canonical text of any non-text kind, NUL included:
 * "-0.<38 digits>" is 41, datetimeoffset(7) with a 5-digit year is 36. */
#define TDS__SCALAR_TEXT_MAX 64

/* Days since 0001-01-01 of well-known dates. */
#define TDS__DAYS_1900 693595   /* 1900-01-01: base of datetime/smalldatetime */
#define TDS__DAYS_MAX 3652058   /* 9999-12-31 */
#define TDS__DAYS_1753 639905   /* 1753-01-01: datetime minimum */
#define TDS__TICKS_PER_DAY 864000000000ULL /* 100 ns ticks */

/* ------------------------------------------------------------ column.c */

/* Checks that len bytes are a possible value for c (length and, for
 * fixed-size kinds, exact size). Returns TDS_OK or TDS_E_PROTO. Text and
 * binary kinds accept any length up to what the type allows. */
int tds__value_check(const tds_column *c, uint32_t len);
/* The kind a value of len bytes has in c (the N types are read by value
 * length), or TDS_E_PROTO for an impossible length, TDS_E_TYPE for a type
 * with no value form. The nullable "N" types (what SQL Server sends for
 * almost every numeric and datetime column) are answered inline: every
 * accessor of every value asks, and a call per value across files cost 6%
 * of a discard load's instructions once the other cases grew. */
static inline int tds__n_kind(uint8_t type, uint32_t len)
{
    switch (type) {
    case TDS_T_INTN:
        return len == 1 ? TDS_K_TINYINT : len == 2 ? TDS_K_SMALLINT
             : len == 4 ? TDS_K_INT : len == 8 ? TDS_K_BIGINT : 0;
    case TDS_T_FLTN:
        return len == 4 ? TDS_K_REAL : len == 8 ? TDS_K_FLOAT : 0;
    case TDS_T_MONEYN:
        return len == 4 ? TDS_K_SMALLMONEY : len == 8 ? TDS_K_MONEY : 0;
    case TDS_T_DATETIMN:
        return len == 4 ? TDS_K_SMALLDATETIME : len == 8 ? TDS_K_DATETIME : 0;
    case TDS_T_BITN:
        return len == 1 ? TDS_K_BIT : 0;
    default:
        return 0;
    }
}
int tds__value_kind_other(const tds_column *c, uint32_t len);
static inline int tds__value_kind(const tds_column *c, uint32_t len)
{
    switch (c->type) {
    case TDS_T_INTN: case TDS_T_FLTN: case TDS_T_MONEYN: case TDS_T_DATETIMN: case TDS_T_BITN: {
        int k = tds__n_kind(c->type, len);
        return k ? k : TDS_E_PROTO;
    }
    default:
        return tds__value_kind_other(c, len);
    }
}
/* Bytes of a TIMEN value for scale 0–7 (3, 4 or 5). */
static inline uint32_t tds__time_len(uint8_t scale) { return scale <= 2 ? 3u : scale <= 4 ? 4u : 5u; }
/* Bytes of a DECIMALN magnitude for a precision (4, 8, 12, 16). */
static inline uint32_t tds__decimal_mag_len(uint8_t prec) { return prec <= 9 ? 4u : prec <= 19 ? 8u : prec <= 28 ? 12u : 16u; }
/* The default collation Latin1_General_CI_AS (09 04 D0 00 34, cp 1252). */
void tds__collation_default(tds_collation *c);

/* ----------------------------------------------------------- decimal.c */

/* magnitude < 10^digits (digits 0–38)? */
bool tds__decimal_fits(const uint8_t mag[16], unsigned digits);
/* Canonical text of d (exactly d->scale decimals). buf must hold
 * TDS__SCALAR_TEXT_MAX bytes. Returns the length. */
size_t tds__decimal_text(const tds_decimal *d, char *buf);
/* money (units of 1/10000) to a decimal with scale 4. */
void tds__decimal_from_money(int64_t units, uint8_t precision, tds_decimal *out);
/* Rescale d to `scale` (rounding half away from zero when digits are
 * dropped) into out, then check it fits `precision` digits. Returns
 * TDS_OK or TDS_E_RANGE. */
int tds__decimal_rescale(const tds_decimal *d, uint8_t precision, uint8_t scale, tds_decimal *out);
/* d as money units (scale 4, rounded), TDS_E_RANGE beyond int64. */
int tds__decimal_to_money(const tds_decimal *d, int64_t *units);
/* Is the 128-bit magnitude zero? */
bool tds__decimal_is_zero(const uint8_t mag[16]);

/* ---------------------------------------------------------- datetime.c */

/* Proleptic Gregorian calendar: days since 0001-01-01 <-> year/month/day
 * (valid for any int32 days; year may be 0 or negative). */
void tds__days_to_ymd(int32_t days, int32_t *y, unsigned *m, unsigned *d);
int32_t tds__ymd_to_days(int32_t y, unsigned m, unsigned d);
/* Canonical text of dt (per dt->kind; datetimeoffset shows local time).
 * buf must hold TDS__SCALAR_TEXT_MAX bytes. Returns the length. */
size_t tds__datetime_text(const tds_datetime *dt, char *buf);
/* Rounds dt's ticks to what its kind/scale can hold (datetime: 1/300 s,
 * smalldatetime: minutes, time/datetime2/dto: 10^-scale s), carrying into
 * days. Used by parse and the encoders so the three agree exactly. */
void tds__datetime_round(tds_datetime *dt);
/* Is dt inside its kind's range (after rounding)? */
bool tds__datetime_in_range(const tds_datetime *dt);

/* ---------------------------------------------------------- value_text.c */

/* Shortest round-trip text of a double / float. buf holds 32 bytes.
 * Independent of the process locale. */
size_t tds__float_text(double v, char *buf);
size_t tds__real_text(float v, char *buf);
/* vector.c: the JSON-array text of a vector value (tds_value_text's
 * contract: TDS_E_SPACE with *out_len = the needed length). */
int tds__vector_text(const tds_column *c, const tds_value *v, char *out, size_t cap,
                     size_t *out_len);

#include "tds_c_locale.h" /* c_locale.c */

#endif /* TDS_VALUE_INT_H */
