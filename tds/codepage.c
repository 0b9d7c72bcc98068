/*
 * codepage.c — collations and char ↔ UTF-8.
 *
 * Owns: parsing the 5-byte collation (MS-TDS 2.2.5.1.2) and deriving its
 * code page (UTF-8 flag, then SortId, then the LCID's language), and the
 * text conversions of char/varchar/text values (through that code page),
 * nchar/nvarchar/ntext and xml (UTF-16LE) to and from UTF-8.
 *
 * Invariants:
 *  - Conversions are exact or fail: a byte the code page leaves undefined,
 *    a truncated double-byte character, invalid UTF-8 or a character the
 *    code page cannot spell is TDS_E_ENCODING, never a '?' substitute.
 *  - ASCII is the same in every code page we speak, so runs of bytes below
 *    0x80 are copied whole; a value of pure ASCII never reaches a table or
 *    iconv.
 *  - Single-byte pages (437, 850, 874, 1250–1258) use the generated tables
 *    in codepage_tables.c. Double-byte pages (932, 936, 949, 950) go through
 *    iconv(3) with glibc's converters. There is no process-wide cache: a
 *    tds_conv (each session has one; callers may make their own) opens one
 *    converter per page and direction on first use and keeps it until it
 *    is freed; the plain functions (no tds_conv) open a private converter
 *    for the call (about 0.5 µs more per non-ASCII double-byte value).
 *    A tds_conv is used by one thread at a time, like its owner.
 *  - Output sizing: a conversion runs to the end even when the caller's
 *    buffer is short, so TDS_E_SPACE always comes with the exact length
 *    needed, and an encoding error anywhere wins over TDS_E_SPACE.
 */
#include <errno.h>
#include <iconv.h>

#include "codepage_int.h"

/* ------------------------------------------------------------ collation */

uint16_t tds_collation_codepage(const uint8_t raw[5])
{
    if (raw[3] & 0x04) /* fUTF8: bit 26 of the LE 32-bit word */
        return TDS_CP_UTF8;
    if (raw[4])
        return tds__sortid_cp[raw[4]];
    /* The LCID's top 4 bits select alternative sorts of the same
     * language; the code page follows the 16-bit language id. */
    uint16_t lang = tds_le16(raw);
    size_t lo = 0, hi = tds__lang_cp_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tds__lang_cps[mid].lang == lang)
            return tds__lang_cps[mid].codepage;
        if (tds__lang_cps[mid].lang < lang)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

void tds_collation_parse(const uint8_t raw[5], tds_collation *out)
{
    uint32_t v = tds_le32(raw);
    memcpy(out->raw, raw, 5);
    out->lcid = v & 0xFFFFFu;
    out->flags = (uint8_t)(v >> 20);
    out->version = (uint8_t)(v >> 28);
    out->sort_id = raw[4];
    out->codepage = tds_collation_codepage(raw);
}

const tds__sbcs *tds__sbcs_find(uint16_t codepage)
{
    for (size_t i = 0; i < tds__sbcs_count; i++)
        if (tds__sbcs_tables[i].codepage == codepage)
            return &tds__sbcs_tables[i];
    return NULL;
}

uint16_t tds__column_codepage(const tds_column *c)
{
    static const uint8_t zero[5];
    if (c->collation.codepage)
        return c->collation.codepage;
    if (memcmp(c->collation.raw, zero, sizeof zero) == 0)
        return 1252; /* tds_column_init's default, Latin1_General_CI_AS */
    return tds_collation_codepage(c->collation.raw);
}

/* ------------------------------------------------------------- helpers */

/* Output that keeps counting past the end of the caller's buffer. */
typedef struct wr {
    uint8_t *out;
    size_t cap;
    size_t pos;
    bool over; /* something did not fit; pos is still the full length */
} wr;

static inline void wr_put(wr *w, const void *p, size_t n)
{
    if (!w->over && n <= w->cap - w->pos) {
        if (n)
            memcpy(w->out + w->pos, p, n);
    } else {
        w->over = true;
    }
    w->pos += n;
}

static inline void wr_cp(wr *w, uint32_t c)
{
    uint8_t t[4];
    size_t n;
    if (c < 0x80) {
        t[0] = (uint8_t)c;
        n = 1;
    } else if (c < 0x800) {
        t[0] = (uint8_t)(0xC0 | (c >> 6));
        t[1] = (uint8_t)(0x80 | (c & 0x3F));
        n = 2;
    } else if (c < 0x10000) {
        t[0] = (uint8_t)(0xE0 | (c >> 12));
        t[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        t[2] = (uint8_t)(0x80 | (c & 0x3F));
        n = 3;
    } else {
        t[0] = (uint8_t)(0xF0 | (c >> 18));
        t[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
        t[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        t[3] = (uint8_t)(0x80 | (c & 0x3F));
        n = 4;
    }
    wr_put(w, t, n);
}

/* Length of the leading run of ASCII bytes, eight at a time. */
static size_t ascii_len(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (n - i >= 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        if (x & 0x8080808080808080ull)
            break;
        i += 8;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

static bool utf8_valid(const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    while (p < end) {
        p += ascii_len(p, (size_t)(end - p));
        if (p < end && tds__utf8_next(&p, end) < 0)
            return false;
    }
    return true;
}

/* ------------------------------------------------- double-byte (iconv) */

static const uint16_t dbcs_pages[TDS__DBCS_N] = { 932, 936, 949, 950 };
static const char *const dbcs_names[TDS__DBCS_N] = { "CP932", "CP936", "CP949", "CP950" };

static int dbcs_index(uint16_t cp)
{
    for (int i = 0; i < TDS__DBCS_N; i++)
        if (dbcs_pages[i] == cp)
            return i;
    return -1;
}

/* Runs all of in through cd into w. TDS_E_ENCODING for an invalid or
 * unmappable sequence (or a character cut off at the end). */
static int iconv_run(iconv_t cd, const uint8_t *in, size_t n, wr *w)
{
    char scratch[256];
    char *ip = (char *)(uintptr_t)in;
    size_t il = n;
    if (!w->out)
        w->over = true; /* counting only; any input makes output */
    iconv(cd, NULL, NULL, NULL, NULL);
    while (il > 0) {
        bool direct = !w->over;
        char *start = direct ? (char *)w->out + w->pos : scratch;
        char *op = start;
        size_t ol = direct ? w->cap - w->pos : sizeof scratch;
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        w->pos += (size_t)(op - start);
        if (r == (size_t)-1) {
            if (errno != E2BIG)
                return TDS_E_ENCODING;
            if (direct)
                w->over = true;
            else if (op == start)
                return TDS_E_ENCODING; /* cannot happen: 256 bytes fit any char */
        } else if (r != 0) {
            return TDS_E_ENCODING; /* an irreversible (substituted) conversion */
        }
    }
    return TDS_OK;
}

/* dir 0: page → UTF-8, 1: UTF-8 → page. With cv, its converter (opened
 * now if needed) is used and kept; without, a private one for this call. */
static int dbcs_convert(tds_conv *cv, int page, int dir, const uint8_t *in, size_t n, wr *w)
{
    const char *from = dir ? "UTF-8" : dbcs_names[page];
    const char *to = dir ? dbcs_names[page] : "UTF-8";
    if (cv && cv->cd[page][dir])
        return iconv_run((iconv_t)cv->cd[page][dir], in, n, w);
    iconv_t cd = iconv_open(to, from);
    if (cd == (iconv_t)-1)
        return TDS_E_UNSUPPORTED;
    int rc = iconv_run(cd, in, n, w);
    if (cv)
        cv->cd[page][dir] = (void *)cd;
    else
        iconv_close(cd);
    return rc;
}

void tds__conv_close(tds_conv *cv)
{
    for (int i = 0; i < TDS__DBCS_N; i++)
        for (int d = 0; d < 2; d++)
            if (cv->cd[i][d]) {
                iconv_close((iconv_t)cv->cd[i][d]);
                cv->cd[i][d] = NULL;
            }
}

tds_conv *tds_conv_new(void)
{
    tds_conv *cv = tds__malloc(&tds__default_alloc, sizeof *cv);
    if (cv)
        memset(cv, 0, sizeof *cv);
    return cv;
}

void tds_conv_free(tds_conv *cv)
{
    if (!cv)
        return;
    tds__conv_close(cv);
    tds__free(&tds__default_alloc, cv);
}

/* The text kind of a column; a column whose kind was left unset is judged
 * by its wire type. Anything else is TDS_K_UNKNOWN. */
static int text_kind(const tds_column *c)
{
    switch (c->kind) {
    case TDS_K_CHAR: case TDS_K_NCHAR: case TDS_K_XML: case TDS_K_JSON:
        return c->kind;
    case TDS_K_UNKNOWN:
        break;
    default:
        return TDS_K_UNKNOWN;
    }
    switch (c->type) {
    case TDS_T_CHAR: case TDS_T_VARCHAR: case TDS_T_BIGCHAR:
    case TDS_T_BIGVARCHR: case TDS_T_TEXT:
        return TDS_K_CHAR;
    case TDS_T_NCHAR: case TDS_T_NVARCHAR: case TDS_T_NTEXT:
        return TDS_K_NCHAR;
    case TDS_T_XML:
        return TDS_K_XML;
    case TDS_T_JSON:
        return TDS_K_JSON;
    default:
        return TDS_K_UNKNOWN;
    }
}

/* ------------------------------------------------------ char → UTF-8 */

static int sbcs_decode(const tds__sbcs *t, const uint8_t *p, size_t n, wr *w)
{
    const uint8_t *end = p + n;
    while (p < end) {
        size_t run = ascii_len(p, (size_t)(end - p));
        wr_put(w, p, run);
        p += run;
        while (p < end && *p >= 0x80) {
            uint16_t u = t->hi[*p - 0x80];
            if (u == TDS__CP_UNDEF)
                return TDS_E_ENCODING;
            wr_cp(w, u);
            p++;
        }
    }
    return TDS_OK;
}

static int char_decode(tds_conv *cv, uint16_t cp, const uint8_t *p, size_t n, wr *w)
{
    size_t run = ascii_len(p, n);
    if (run == n) {
        wr_put(w, p, n);
        return TDS_OK;
    }
    if (cp == TDS_CP_UTF8) {
        if (!utf8_valid(p + run, n - run))
            return TDS_E_ENCODING;
        wr_put(w, p, n);
        return TDS_OK;
    }
    const tds__sbcs *t = tds__sbcs_find(cp);
    if (t)
        return sbcs_decode(t, p, n, w);
    int page = dbcs_index(cp);
    if (page >= 0)
        return dbcs_convert(cv, page, 0, p, n, w);
    return TDS_E_UNSUPPORTED;
}

int tds_value_utf8(const tds_column *c, const tds_value *v, char *out,
                   size_t cap, size_t *out_len)
{
    return tds_value_utf8_cv(NULL, c, v, out, cap, out_len);
}

int tds_value_utf8_cv(tds_conv *cv, const tds_column *c, const tds_value *v, char *out,
                      size_t cap, size_t *out_len)
{
    if (!c || !v || !out_len || (!out && cap) || (!v->ptr && v->len))
        return TDS_E_ARG;
    *out_len = 0;
    int kind = text_kind(c);
    if (kind == TDS_K_UNKNOWN)
        return TDS_E_TYPE;
    if (v->flags & (TDS_VF_NULL | TDS_VF_STREAMED))
        return TDS_E_TYPE;

    /* Room for the terminating NUL is kept back from the start. */
    wr w = { (uint8_t *)out, cap ? cap - 1 : 0, 0, cap == 0 };
    size_t need;
    int rc;
    if ((v->flags & TDS_VF_UTF8) || kind == TDS_K_JSON) {
        /* An encoder-side view that still holds UTF-8, or json (UTF-8 on
         * the wire). */
        rc = utf8_valid(v->ptr, v->len) ? TDS_OK : TDS_E_ENCODING;
        if (rc == TDS_OK)
            wr_put(&w, v->ptr, v->len);
        need = w.pos;
    } else if (kind == TDS_K_CHAR) {
        rc = char_decode(cv, tds__column_codepage(c), v->ptr, v->len, &w);
        need = w.pos;
    } else {
        int n = tds_utf16_to_utf8(v->ptr, v->len, out, w.cap);
        if (n == TDS_E_SPACE) {
            n = tds_utf16_to_utf8(v->ptr, v->len, NULL, 0);
            w.over = true;
        }
        rc = n < 0 ? n : TDS_OK;
        need = n < 0 ? 0 : (size_t)n;
    }
    if (rc < 0)
        return rc;
    if (need > INT32_MAX)
        return TDS_E_TOOBIG;
    *out_len = need;
    if (w.over || need > w.cap)
        return TDS_E_SPACE;
    out[need] = '\0';
    return TDS_OK;
}

/* ------------------------------------------------------ UTF-8 → char */

static const tds__cp_rev *rev_find(const tds__sbcs *t, uint32_t c)
{
    size_t lo = 0, hi = t->nrev;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->rev[mid].uni == c)
            return &t->rev[mid];
        if (t->rev[mid].uni < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const tds__cp_comp *comp_find(const tds__sbcs *t, uint32_t c)
{
    size_t lo = 0, hi = t->ncomp;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->comp[mid].uni == c)
            return &t->comp[mid];
        if (t->comp[mid].uni < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int sbcs_encode(const tds__sbcs *t, const uint8_t *p, size_t n, wr *w)
{
    const uint8_t *end = p + n;
    while (p < end) {
        size_t run = ascii_len(p, (size_t)(end - p));
        wr_put(w, p, run);
        p += run;
        if (p == end)
            break;
        int32_t c = tds__utf8_next(&p, end);
        if (c < 0)
            return TDS_E_ENCODING;
        const tds__cp_rev *r = rev_find(t, (uint32_t)c);
        if (r) {
            wr_put(w, &r->byte, 1);
            continue;
        }
        /* Letters such as Vietnamese ệ that 1258 spells base + marks. */
        const tds__cp_comp *k = t->comp ? comp_find(t, (uint32_t)c) : NULL;
        if (!k)
            return TDS_E_ENCODING;
        wr_put(w, k->bytes, k->n);
    }
    return TDS_OK;
}

static int encode(tds_conv *cv, const tds_column *c, const char *utf8, size_t len, wr *w)
{
    const uint8_t *p = (const uint8_t *)utf8;
    int kind = text_kind(c);
    if (kind == TDS_K_NCHAR || kind == TDS_K_XML) {
        int n = tds_utf8_to_utf16(utf8, len, w->out, w->cap);
        if (n == TDS_E_SPACE) {
            n = tds_utf8_to_utf16(utf8, len, NULL, 0);
            w->over = true;
        }
        if (n < 0)
            return n;
        w->pos = (size_t)n;
        return TDS_OK;
    }
    if (kind == TDS_K_JSON) { /* UTF-8 on the wire, as given */
        if (!utf8_valid(p, len))
            return TDS_E_ENCODING;
        wr_put(w, p, len);
        return TDS_OK;
    }
    if (kind != TDS_K_CHAR)
        return TDS_E_TYPE;
    size_t run = ascii_len(p, len);
    if (run == len) {
        wr_put(w, p, len);
        return TDS_OK;
    }
    uint16_t cp = tds__column_codepage(c);
    if (cp == TDS_CP_UTF8) {
        if (!utf8_valid(p + run, len - run))
            return TDS_E_ENCODING;
        wr_put(w, p, len);
        return TDS_OK;
    }
    const tds__sbcs *t = tds__sbcs_find(cp);
    if (t)
        return sbcs_encode(t, p, len, w);
    int page = dbcs_index(cp);
    if (page < 0)
        return TDS_E_UNSUPPORTED;
    /* Strict validation first: iconv's UTF-8 decoder is more lenient. */
    if (!utf8_valid(p + run, len - run))
        return TDS_E_ENCODING;
    return dbcs_convert(cv, page, 1, p, len, w);
}

int tds_encode_text(const tds_column *c, const char *utf8, size_t len,
                    uint8_t *out, size_t cap)
{
    return tds_encode_text_cv(NULL, c, utf8, len, out, cap);
}

int tds_encode_text_cv(tds_conv *cv, const tds_column *c, const char *utf8, size_t len,
                       uint8_t *out, size_t cap)
{
    if (!c || (!utf8 && len) || (!out && cap))
        return TDS_E_ARG;
    wr w = { out, cap, 0, false };
    int rc = encode(cv, c, utf8, len, &w);
    if (rc < 0)
        return rc;
    if (w.pos > INT32_MAX)
        return TDS_E_TOOBIG;
    if (w.over || w.pos > cap)
        return TDS_E_SPACE;
    return (int)w.pos;
}

int tds__encode_text_len(tds_conv *cv, const tds_column *c, const char *utf8, size_t len)
{
    if (!c || (!utf8 && len))
        return TDS_E_ARG;
    wr w = { NULL, 0, 0, true };
    int rc = encode(cv, c, utf8, len, &w);
    if (rc < 0)
        return rc;
    if (w.pos > INT32_MAX)
        return TDS_E_TOOBIG;
    return (int)w.pos;
}
