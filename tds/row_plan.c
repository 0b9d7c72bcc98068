/*
 * row_plan.c — precomputed row encoders (tds_row_plan_new / tds_put_rows):
 * the test server's and bulk load's hot path for many rows of one shape.
 *
 * Per column the plan holds an op (fixed 1/2/4/8 bytes, other fixed,
 * BYTELEN, USHORTLEN, or general), the set of lengths a value may have
 * (a 256-bit map for BYTELEN types, the declared maximum and an "even"
 * flag for USHORTLEN), and the plan an upper bound for a row's bytes.
 *
 * Invariants: a fast row is written in one pass straight into tx.out past
 * out.len, with capacity for the row's bound (plus packet headers)
 * reserved first, and committed only when every value passed; a value that
 * fails (or needs the general path) abandons the pass before out.len
 * moves, and the row is redone by the general path, which checks every
 * value before writing its first byte. Either way the bytes are exactly
 * tds_put_row's. Committing inserts packet headers where packets filled
 * (tds__tx_commit_split), so rows straddle packets as tds_put_bytes would
 * split them.
 */
#include "encode_int.h"
#include "value_int.h"

enum {
    OP_F1, OP_F2, OP_F4, OP_F8, /* fixed-size types: exactly n bytes, no prefix */
    OP_FX,                      /* other fixed (TDS_T_NULL: no non-NULL value) */
    OP_BYTE,                    /* BYTELEN prefix */
    OP_USHORT,                  /* USHORTLEN prefix */
    OP_GENERAL,                 /* PLP, text/ntext/image, sql_variant */
};

/* Rows whose bound exceeds this always take the general path. */
#define FAST_ROW_MAX (1u << 20)

typedef struct pcol {
    uint8_t op;
    bool text;          /* TDS_VF_UTF8 values allowed (char/nchar/xml kinds) */
    bool even;          /* USHORT: odd lengths rejected (UTF-16 types) */
    uint32_t fixed;     /* OP_FX: the fixed size */
    uint32_t max;       /* BYTE/USHORT: largest length allowed */
    uint64_t ok[4];     /* BYTE: bit k set when a k-byte value is allowed */
} pcol;

struct tds_row_plan {
    tds_alloc alloc;
    uint16_t n;
    uint8_t token;
    bool nbc;
    bool general;       /* every row takes the general path */
    size_t nbm;         /* NBCROW bitmap bytes */
    size_t max_row;     /* bound of a fast row's bytes, token included */
    pcol *pc;
    tds_column *cols;   /* type fields of the caller's columns, names dropped */
};

static bool is_text_kind(const tds_column *c)
{
    return c->kind == TDS_K_CHAR || c->kind == TDS_K_NCHAR || c->kind == TDS_K_XML ||
           c->kind == TDS_K_JSON;
}

static int pcol_init(pcol *p, const tds_column *c, size_t *bound)
{
    uint32_t fixed;
    int cls = tds__value_class(c, &fixed);
    if (cls < 0)
        return cls;
    memset(p, 0, sizeof *p);
    p->text = is_text_kind(c);
    if (c->kind == TDS_K_VECTOR) /* header checked, text parsed: the general path */
        cls = TDS__VC_PLP;
    switch (cls) {
    case TDS__VC_FIXED:
        p->op = c->type == TDS_T_NULL ? OP_FX : fixed == 1 ? OP_F1 : fixed == 2 ? OP_F2
              : fixed == 4 ? OP_F4 : fixed == 8 ? OP_F8 : OP_FX;
        p->fixed = c->type == TDS_T_NULL ? 0 : fixed;
        *bound = fixed;
        return TDS_OK;
    case TDS__VC_BYTE:
        p->op = OP_BYTE;
        p->max = c->max_len && c->max_len < 255 ? c->max_len : 255;
        for (uint32_t k = 1; k <= p->max; k++)
            if (tds__value_check(c, k) == TDS_OK)
                p->ok[k >> 6] |= 1ull << (k & 63);
        *bound = 1 + (size_t)p->max;
        return TDS_OK;
    case TDS__VC_USHORT:
        p->op = OP_USHORT;
        p->max = c->max_len < 0xFFFF ? c->max_len : 0xFFFE;
        p->even = tds__value_check(c, 1) != TDS_OK;
        *bound = 2 + (size_t)p->max;
        return TDS_OK;
    default:
        p->op = OP_GENERAL;
        *bound = FAST_ROW_MAX + 1;
        return TDS_OK;
    }
}

int tds_row_plan_new(tds_session *s, uint8_t token, const tds_column *cols, uint16_t n,
                     tds_row_plan **out)
{
    if (out)
        *out = NULL;
    if (!s || !out || (n && !cols) || (token != TDS_TOK_ROW && token != TDS_TOK_NBCROW))
        return TDS_E_ARG;
    const tds_alloc *a = s->alloc;
    tds_row_plan *p = tds__malloc(a, sizeof *p);
    if (!p)
        return TDS_E_NOMEM;
    memset(p, 0, sizeof *p);
    p->alloc = *a;
    p->n = n;
    p->token = token;
    p->nbc = token == TDS_TOK_NBCROW;
    p->nbm = p->nbc ? ((size_t)n + 7) / 8 : 0;
    p->pc = tds__malloc(a, (size_t)n * sizeof *p->pc);
    p->cols = tds__malloc(a, (size_t)n * sizeof *p->cols);
    if (!p->pc || !p->cols) {
        tds_row_plan_free(p);
        return TDS_E_NOMEM;
    }
    size_t total = 1 + p->nbm;
    for (uint16_t i = 0; i < n; i++) {
        size_t b;
        int rc = pcol_init(&p->pc[i], &cols[i], &b);
        if (rc < 0) {
            tds_row_plan_free(p);
            return TDS_E_TYPE;
        }
        tds_column *c = &p->cols[i];
        *c = cols[i];
        c->name = c->table = c->udt_db = c->udt_schema = c->udt_type = c->udt_assembly =
            c->xml_db = c->xml_schema = c->xml_collection = (tds_str){ NULL, 0 };
        total += b;
        if (p->pc[i].op == OP_GENERAL || total > FAST_ROW_MAX)
            p->general = true;
    }
    p->max_row = total;
    *out = p;
    return TDS_OK;
}

void tds_row_plan_free(tds_row_plan *p)
{
    if (!p)
        return;
    tds_alloc a = p->alloc;
    tds__free(&a, p->pc);
    tds__free(&a, p->cols);
    tds__free(&a, p);
}

uint16_t tds_row_plan_ncols(const tds_row_plan *p) { return p ? p->n : 0; }

/* ------------------------------------------------------- general path */

/* The checks tds__value_put makes before writing, without writing: a row
 * is checked whole before its first byte. */
static int value_check(tds_conv *cv, const tds_column *c, const tds_value *v)
{
    uint32_t fixed, len;
    bool null;
    int cls = tds__value_measure(cv, c, v, &fixed, &null, &len);
    if (cls < 0)
        return cls;
    bool utf8 = !null && (v->flags & TDS_VF_UTF8);
    switch (cls) {
    case TDS__VC_FIXED:
        return null || len != fixed || c->type == TDS_T_NULL ? TDS_E_ARG : TDS_OK;
    case TDS__VC_BYTE:
        if (null)
            return TDS_OK;
        if (len == 0)
            return TDS_E_ARG;
        if (len > 255 || (c->max_len && len > c->max_len))
            return TDS_E_RANGE;
        break;
    case TDS__VC_USHORT:
        if (null)
            return TDS_OK;
        if (len > c->max_len || len >= 0xFFFF)
            return TDS_E_RANGE;
        break;
    case TDS__VC_LONG:
        return null ? TDS_OK : utf8 || len < 2 || len > 8016 ? TDS_E_ARG : TDS_OK;
    default: /* PLP, TEXT */
        if (null)
            return TDS_OK;
        break;
    }
    return !utf8 && tds__value_check(c, len) != TDS_OK ? TDS_E_ARG : TDS_OK;
}

static int row_general(tds_session *s, const tds_row_plan *p, const tds_value *v)
{
    /* tds_put_row's order: NULLs of fixed types first, then value by value */
    for (uint16_t i = 0; i < p->n && !p->nbc; i++)
        if (p->pc[i].op <= OP_FX && (v[i].flags & TDS_VF_NULL))
            return TDS_E_ARG;
    for (uint16_t i = 0; i < p->n; i++) {
        if (p->nbc && (v[i].flags & TDS_VF_NULL))
            continue;
        int rc = value_check(&s->conv, &p->cols[i], &v[i]);
        if (rc)
            return rc;
    }
    int rc = tds__put_u8(s, p->token);
    for (size_t b = 0; !rc && b < p->nbm; b++) {
        uint8_t bits = 0;
        for (unsigned k = 0; k < 8 && b * 8 + k < p->n; k++)
            if (v[b * 8 + k].flags & TDS_VF_NULL)
                bits |= (uint8_t)(1u << k);
        rc = tds__put_u8(s, bits);
    }
    for (uint16_t i = 0; !rc && i < p->n; i++) {
        if (p->nbc && (v[i].flags & TDS_VF_NULL))
            continue;
        rc = tds__value_put(s, &p->cols[i], &v[i]);
    }
    return rc;
}

/* ---------------------------------------------------------- fast path */

/* Out of line so the compiler calls libc's memcpy for long values instead
 * of inlining a rep movs, whose start-up cost dominates short copies. */
__attribute__((noinline)) static void copy_long(uint8_t *d, const uint8_t *s, size_t n)
{
    memcpy(d, s, n);
}

/* n bytes, n of any size; values up to 32 bytes (every fixed-size type,
 * short strings) with two overlapping loads and stores. */
static inline void copy_var(uint8_t *d, const uint8_t *s, size_t n)
{
    if (n > 32) {
        copy_long(d, s, n);
    } else if (n > 16) {
        uint8_t a[16], b[16];
        memcpy(a, s, 16);
        memcpy(b, s + n - 16, 16);
        memcpy(d, a, 16);
        memcpy(d + n - 16, b, 16);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n) {
        d[0] = s[0];
        d[n >> 1] = s[n >> 1];
        d[n - 1] = s[n - 1];
    }
}

static inline bool len_ok(const pcol *pc, uint32_t len)
{
    return len <= 255 && (pc->ok[len >> 6] >> (len & 63)) & 1;
}

/* TDS_VF_UTF8 text into [d, d + cap): bytes written, or -1 when the value
 * needs the general path (invalid, too long, empty where that is NULL). */
static long put_utf8(tds_conv *cv, const tds_column *c, const tds_value *v, uint8_t *d, uint32_t cap)
{
    if (v->len && !v->ptr)
        return -1;
    int m = tds_encode_text_cv(cv, c, (const char *)v->ptr, v->len, d, cap);
    return m < 0 ? -1 : m;
}

/* One row at d in one pass. Returns the end, or NULL when a value needs
 * the general path (bad, or text to transcode that does not fit here). */
static uint8_t *row_fast(tds_conv *cv, const tds_row_plan *p, const tds_value *v, uint8_t *d)
{
    /* plan fields in locals: stores through d (a uint8_t *) may alias
     * anything, so the compiler would reload them after every byte */
    const uint16_t n = p->n;
    const bool nbc = p->nbc;
    *d++ = p->token;
    uint8_t *bm = d;
    if (nbc) {
        memset(bm, 0, p->nbm);
        d += p->nbm;
    }
    const pcol *pc = p->pc;
    for (uint16_t i = 0; i < n; i++, pc++, v++) {
        uint8_t fl = v->flags;
        if (fl & TDS_VF_NULL) {
            if (nbc) {
                bm[i >> 3] |= (uint8_t)(1u << (i & 7));
                continue;
            }
            switch (pc->op) {
            case OP_BYTE: *d++ = 0; continue;
            case OP_USHORT: d[0] = d[1] = 0xFF; d += 2; continue;
            default: return NULL; /* fixed types carry NULL only in NBCROW */
            }
        }
        const uint8_t *src = v->ptr;
        uint32_t len = v->len;
        if (fl & TDS_VF_UTF8) {
            long m;
            switch (pc->op) {
            case OP_BYTE:
                if (!pc->text || (m = put_utf8(cv, &p->cols[i], v, d + 1, pc->max)) <= 0)
                    return NULL;
                *d = (uint8_t)m;
                d += 1 + m;
                continue;
            case OP_USHORT:
                if (!pc->text || (m = put_utf8(cv, &p->cols[i], v, d + 2, pc->max)) < 0)
                    return NULL;
                tds_wle16(d, (uint16_t)m);
                d += 2 + m;
                continue;
            default:
                return NULL;
            }
        }
        switch (pc->op) {
        case OP_F1:
            if (len != 1 || !src)
                return NULL;
            *d++ = *src;
            break;
        case OP_F2:
            if (len != 2 || !src)
                return NULL;
            memcpy(d, src, 2);
            d += 2;
            break;
        case OP_F4:
            if (len != 4 || !src)
                return NULL;
            memcpy(d, src, 4);
            d += 4;
            break;
        case OP_F8:
            if (len != 8 || !src)
                return NULL;
            memcpy(d, src, 8);
            d += 8;
            break;
        case OP_FX:
            if (len != pc->fixed || !pc->fixed || !src)
                return NULL;
            copy_var(d, src, len);
            d += len;
            break;
        case OP_BYTE:
            if (!len_ok(pc, len) || !src)
                return NULL;
            *d++ = (uint8_t)len;
            copy_var(d, src, len);
            d += len;
            break;
        case OP_USHORT:
            if (len > pc->max || (pc->even && (len & 1)) || (len && !src))
                return NULL;
            tds_wle16(d, (uint16_t)len);
            d += 2;
            copy_var(d, src, len);
            d += len;
            break;
        default:
            return NULL;
        }
    }
    return d;
}

int tds_put_rows(tds_session *s, const tds_row_plan *p, const tds_value *vals, size_t nrows,
                 size_t *nput)
{
    if (nput)
        *nput = 0;
    if (!s || !p || (nrows && !vals))
        return TDS_E_ARG;
    if (s->error)
        return s->error;
    tds_tx *tx = &s->tx;
    if (!tx->in_msg)
        return TDS_E_STATE;
    size_t psize = s->packet_size;
    /* Room a fast row may need: its bound plus a header per packet it can cross. */
    size_t need = p->max_row + TDS_HEADER_SIZE * (p->max_row / (psize - TDS_HEADER_SIZE) + 2);
    size_t grow = need > 65536 ? need : 65536;
    int rc = TDS_OK;
    size_t r;
    for (r = 0; r < nrows; r++) {
        const tds_value *v = vals + r * p->n;
        if (!p->general) {
            if (tx->out.cap - tx->out.len < need && (rc = tds_buf_reserve(&tx->out, grow)))
                break;
            uint8_t *d = tx->out.data + tx->out.len;
            uint8_t *e = row_fast(&s->conv, p, v, d);
            if (e) {
                size_t end = tx->out.len + (size_t)(e - d);
                if (end - tx->pkt_start <= psize)
                    tx->out.len = end;
                else
                    tds__tx_commit_split(s, end);
                continue;
            }
        }
        if ((rc = row_general(s, p, v)))
            break;
    }
    if (nput)
        *nput = r;
    return rc;
}
