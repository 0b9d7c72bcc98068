/*
 * token_int.h — state of the token-stream decoder (token*.c) and the
 * TYPE_INFO/value framing helpers shared with typeinfo.c. Owned by the
 * token decoder; the rest of the engine only embeds struct tds_tokdec in
 * tds_session. Included from tds_int.h after the arena is declared.
 *
 * Invariants:
 * - cols/values/x/voff/nbc are sized at COLMETADATA (capacity only grows)
 *   and reused for every row: no allocation per row.
 * - Column metadata strings live in `meta` (reset at the next
 *   COLMETADATA); per-event strings and assembled values in s->arena
 *   (reset when a new token starts, never when a token is resumed).
 * - While a row is incomplete, the views of its finished columns that point
 *   into rx.buf are saved as offsets from rx.keep (voff), because the
 *   buffer may be compacted or moved before the decoder runs again; they
 *   become pointers again when the row resumes. Views copied into the
 *   arena (TDS_VF_ASSEMBLED) need no rebasing.
 */
#ifndef TDS_TOKEN_INT_H
#define TDS_TOKEN_INT_H

#ifndef TDS_TDS_INT_H
#error "include tds_int.h, not token_int.h"
#endif

#include "tds.h"

/* How a column's values are framed on the wire (MS-TDS 2.2.5.2). */
enum tds__cls {
    TDS__CL_FIXED,   /* no prefix, x.maxlen bytes */
    TDS__CL_NULL,    /* NULLTYPE: no bytes, always NULL */
    TDS__CL_BYTE,    /* 1-byte length, 0 = NULL */
    TDS__CL_USHORT,  /* 2-byte length, 0xFFFF = NULL */
    TDS__CL_LONG,    /* text/ntext/image: textptr, timestamp, 4-byte length */
    TDS__CL_VARIANT, /* 4-byte length, 0 = NULL */
    TDS__CL_PLP,     /* 8-byte total, chunks, terminator */
};

/* Per-column framing facts precomputed at COLMETADATA so the row loop is
 * a switch and a few compares per value. */
typedef struct tds__colx {
    uint8_t cls;       /* tds__cls */
    bool anylen;       /* BYTE/USHORT: any length up to maxlen */
    bool even;         /* UTF-16 data: the length must be even */
    uint32_t maxlen;   /* FIXED: exact size; others: largest allowed */
    uint32_t lenmask;  /* BYTE, !anylen: bit L set when length L (< 32) is valid */
    bool vec;          /* USHORT vector (0xF5): the value header is checked */
    uint8_t vec_elem;  /* vector: element type and dimension count from TYPE_INFO */
    uint16_t vec_dims;
} tds__colx;

/* Raw spans of TYPE_INFO's strings (UDT_INFO or XML_INFO), UTF-16LE,
 * counted in code units. Filled by the scan, turned into UTF-8 later so a
 * scan that runs short allocates nothing. */
typedef struct tds__tistr {
    const uint8_t *p[4];
    uint16_t n[4];
} tds__tistr;

/* Decoder states (token.c dispatches on these). */
enum tds__tokstate {
    TDS__TS_IDLE = 0,  /* between tokens */
    TDS__TS_COLMETA,   /* inside COLMETADATA, cm_i columns done */
    TDS__TS_ROW,       /* inside ROW/NBCROW, rcol columns done */
};

typedef struct tds_tokdec {
    tds_column *cols;      /* current result's metadata */
    tds_value *values;     /* one view per column, reused per row */
    tds__colx *x;          /* framing per column */
    uint32_t *voff;        /* suspended row: view offsets from rx.keep */
    uint8_t *nbc;          /* NBCROW null bitmap of the current row */
    uint16_t ncols;
    uint16_t cap_cols;
    bool have_meta;        /* a COLMETADATA has been decoded */
    int state;             /* tds__tokstate */
    struct tds_arena meta; /* column names and TYPE_INFO strings */
    bool meta_init;

    /* COLMETADATA in progress */
    uint16_t cm_total;
    uint16_t cm_i;

    /* ROW/NBCROW in progress */
    uint8_t rtok;          /* TDS_TOK_ROW or TDS_TOK_NBCROW */
    uint16_t rcol;         /* next column to decode */
    size_t rbytes;         /* row bytes consumed before rx.keep */
    /* PLP value in progress (column rcol) */
    uint8_t plp_phase;     /* 0 total length, 1 chunk header, 2 chunk data */
    bool plp_stream;       /* delivering TDS_EV_PLP_CHUNK events */
    bool plp_known;        /* total length is known */
    uint64_t plp_total;
    uint64_t plp_sum;      /* chunk bytes seen so far */
    uint32_t plp_left;     /* bytes left in the current chunk */
    uint8_t *plp_buf;      /* assembly in s->arena */
    size_t plp_cap;
} tds_tokdec;

/* ------------------------------------------------ typeinfo.c internals */

#define TDS__MAX_COLS 4096
#define TDS__PLP_NULL 0xFFFFFFFFFFFFFFFFull
#define TDS__PLP_UNKNOWN 0xFFFFFFFFFFFFFFFEull

/* Same declaration as value_int.h (column.c owns it). */
int tds__value_check(const tds_column *c, uint32_t len);

/* Scans TYPE_INFO into c without allocating (strings go to raw). On error
 * rd->p is left at the offending (or, for TDS_E_TRUNCATED, the first
 * missing) field. Returns TDS_OK, TDS_E_TRUNCATED or TDS_E_PROTO. */
int tds__typeinfo_scan(tds_rd *rd, tds_column *c, tds__tistr *raw);
/* Turns raw's spans into c's UTF-8 udt_* / xml_* strings in a. */
int tds__typeinfo_strings(tds_column *c, const tds__tistr *raw, tds_arena *a);
/* Framing facts for c. */
void tds__colx_init(const tds_column *c, tds__colx *x);
/* UTF-16LE (n code units) to a NUL-terminated UTF-8 string in a; invalid
 * sequences become U+FFFD (names and messages are data, never fatal).
 * Returns TDS_OK or TDS_E_NOMEM. */
int tds__str16(tds_arena *a, const uint8_t *p, size_t n, tds_str *out);

/* Bytes one value takes at p (PLP included), without building a view.
 * Same return contract as tds__frame. */
int tds__value_span(const tds__colx *x, const uint8_t *p, size_t avail, size_t *used);

/* Frames one non-PLP value at p (avail bytes). Returns TDS_OK with *v set
 * and *used the bytes taken; TDS_E_TRUNCATED with *used the total bytes
 * needed so far known (> avail); TDS_E_PROTO with *used the offset of the
 * offending byte. v->ptr points into p. */
static inline int tds__frame(const tds__colx *x, const uint8_t *p, size_t avail,
                             tds_value *v, size_t *used)
{
    size_t len, hdr;
    switch (x->cls) {
    case TDS__CL_FIXED:
        if (avail < x->maxlen) { *used = x->maxlen; return TDS_E_TRUNCATED; }
        v->ptr = p; v->len = x->maxlen; v->flags = 0;
        *used = x->maxlen;
        return TDS_OK;
    case TDS__CL_NULL:
        v->ptr = NULL; v->len = 0; v->flags = TDS_VF_NULL;
        *used = 0;
        return TDS_OK;
    case TDS__CL_BYTE:
        if (avail < 1) { *used = 1; return TDS_E_TRUNCATED; }
        len = p[0];
        if (len == 0) {
            v->ptr = NULL; v->len = 0; v->flags = TDS_VF_NULL;
            *used = 1;
            return TDS_OK;
        }
        if (len > x->maxlen || (!x->anylen && (len >= 32 || !((x->lenmask >> len) & 1)))) {
            *used = 0;
            return TDS_E_PROTO;
        }
        hdr = 1;
        break;
    case TDS__CL_USHORT:
        if (avail < 2) { *used = 2; return TDS_E_TRUNCATED; }
        len = (size_t)p[0] | ((size_t)p[1] << 8);
        if (len == 0xFFFF) {
            v->ptr = NULL; v->len = 0; v->flags = TDS_VF_NULL;
            *used = 2;
            return TDS_OK;
        }
        if (len > x->maxlen || (x->even && (len & 1))) { *used = 0; return TDS_E_PROTO; }
        hdr = 2;
        break;
    case TDS__CL_LONG: {
        if (avail < 1) { *used = 1; return TDS_E_TRUNCATED; }
        size_t tp = p[0];
        if (tp == 0) {
            v->ptr = NULL; v->len = 0; v->flags = TDS_VF_NULL;
            *used = 1;
            return TDS_OK;
        }
        hdr = 1 + tp + 8 + 4;
        if (avail < hdr) { *used = hdr; return TDS_E_TRUNCATED; }
        len = tds_le32(p + hdr - 4);
        if (len > 0x7FFFFFFFu || (x->even && (len & 1))) { *used = hdr - 4; return TDS_E_PROTO; }
        break;
    }
    case TDS__CL_VARIANT:
        if (avail < 4) { *used = 4; return TDS_E_TRUNCATED; }
        len = tds_le32(p);
        if (len == 0) {
            v->ptr = NULL; v->len = 0; v->flags = TDS_VF_NULL;
            *used = 4;
            return TDS_OK;
        }
        if (len < 2 || len > x->maxlen) { *used = 0; return TDS_E_PROTO; }
        hdr = 4;
        break;
    default: /* PLP is not framed here */
        *used = 0;
        return TDS_E_PROTO;
    }
    if (avail - hdr < len) { *used = hdr + len; return TDS_E_TRUNCATED; }
    if (x->vec) {
        size_t bad;
        if (tds_vector_check(p + hdr, len, x->vec_elem, x->vec_dims, &bad)) {
            *used = hdr + bad;
            return TDS_E_PROTO;
        }
    }
    v->ptr = p + hdr; v->len = (uint32_t)len; v->flags = 0;
    *used = hdr + len;
    return TDS_OK;
}

/* ------------------------------------------- token*.c shared internals */

/* The handler for one token byte, rx.pos at the token. Returns 1 (event,
 * rx.pos past the token), 0 (needs more; rx.keep/pos set) or a negative
 * error already recorded with tds__fail. */
typedef int (*tds__tok_fn)(tds_session *s, tds_event *ev);

int tds__tok_colmetadata(tds_session *s, tds_event *ev);
int tds__tok_colmeta_resume(tds_session *s, tds_event *ev);
int tds__tok_row(tds_session *s, tds_event *ev);
int tds__tok_row_resume(tds_session *s, tds_event *ev);
int tds__tok_done(tds_session *s, tds_event *ev);
int tds__tok_returnstatus(tds_session *s, tds_event *ev);
int tds__tok_returnvalue(tds_session *s, tds_event *ev);
int tds__tok_order(tds_session *s, tds_event *ev);
int tds__tok_colinfo(tds_session *s, tds_event *ev);
int tds__tok_tabname(tds_session *s, tds_event *ev);
int tds__tok_message(tds_session *s, tds_event *ev);     /* ERROR, INFO */
int tds__tok_envchange(tds_session *s, tds_event *ev);
int tds__tok_loginack(tds_session *s, tds_event *ev);
int tds__tok_featureextack(tds_session *s, tds_event *ev);
int tds__tok_fedauthinfo(tds_session *s, tds_event *ev);
int tds__tok_unsupported(tds_session *s, tds_event *ev); /* SSPI, ALTROW, … */

/* The token at rx.pos is not all here: fails with TDS_E_PROTO at `at`
 * (a buffer offset) when the message is complete, else marks the token
 * start as the first byte still needed and returns 0. */
int tds__tok_short(tds_session *s, size_t at);
/* The token at rx.pos ends at buffer offset `end`: fills the event header,
 * moves rx.pos/keep past it and returns 1. */
int tds__tok_event(tds_session *s, tds_event *ev, tds_event_type type, size_t end);
/* Length-prefixed token: lsize (2 or 4) length bytes after the token byte.
 * Returns 1 with rd over the body, 0 (needs more) or an error. Bodies over
 * max bytes are TDS_E_TOOBIG. */
int tds__tok_body(tds_session *s, size_t lsize, size_t max, tds_rd *rd);
/* Column arrays for n columns (capacity only grows). */
int tds__tok_reserve(tds_session *s, uint16_t n);

#endif /* TDS_TOKEN_INT_H */
