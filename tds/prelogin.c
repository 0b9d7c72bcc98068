/*
 * prelogin.c — PRELOGIN payload encode/decode (MS-TDS 2.2.6.5).
 *
 * Owns the option table format: one 5-byte entry per option (token BYTE,
 * offset USHORT, length USHORT, both big-endian and counted from the start
 * of the payload), a 0xFF terminator, then the option data.
 *
 * Byte order: PRELOGIN is the one place TDS writes multi-byte numbers
 * big-endian. UL_VERSION is sent as SQL Server sends it (0F 00 07 D0 =
 * 15.0.2000), and so are US_SUBBUILD and UL_THREADID (as tedious does;
 * the spec's 4.1 example bytes B8 0D 00 00 decode to 0xB80D0000 and
 * re-encode to the same bytes).
 *
 * Decode invariants: every option's [offset, offset+length) lies inside the
 * payload and after the option table; fixed options have at least their
 * size (extra bytes are ignored); a zero-length option other than VERSION
 * and ENCRYPTION counts as not sent (SQL Server sends THREADID that way);
 * INSTOPT must hold a NUL within its length and at most 127 bytes before
 * it (tds_prelogin.instance is 128 bytes with the NUL); a known option
 * twice, or no terminator, is TDS_E_PROTO. Unknown tokens are bounds-
 * checked and skipped.
 */
#include "tds_int.h"

#define PL_ENTRY 5
#define PL_NOPTS 8 /* VERSION .. NONCEOPT */
#define PL_KNOWN_MASK ((1u << PL_NOPTS) - 1)

/* Minimum data length of each known option (INSTOPT: its NUL). */
static const uint16_t pl_min[PL_NOPTS] = {
    [TDS_PL_VERSION] = 6,        [TDS_PL_ENCRYPTION] = 1,
    [TDS_PL_INSTOPT] = 1,        [TDS_PL_THREADID] = 4,
    [TDS_PL_MARS] = 1,           [TDS_PL_TRACEID] = 36,
    [TDS_PL_FEDAUTHREQUIRED] = 1, [TDS_PL_NONCEOPT] = 32,
};

static size_t instance_len(const tds_prelogin *p)
{
    return strnlen(p->instance, sizeof p->instance);
}

/* Data length we write for option i. */
static size_t opt_len(const tds_prelogin *p, unsigned i)
{
    return i == TDS_PL_INSTOPT ? instance_len(p) + 1 : pl_min[i];
}

static void opt_write(const tds_prelogin *p, unsigned i, uint8_t *d)
{
    switch (i) {
    case TDS_PL_VERSION:
        tds_wbe32(d, p->version);
        tds_wbe16(d + 4, p->subbuild);
        break;
    case TDS_PL_ENCRYPTION: d[0] = p->encryption; break;
    case TDS_PL_INSTOPT: {
        size_t n = instance_len(p);
        memcpy(d, p->instance, n);
        d[n] = 0;
        break;
    }
    case TDS_PL_THREADID: tds_wbe32(d, p->thread_id); break;
    case TDS_PL_MARS: d[0] = p->mars; break;
    case TDS_PL_TRACEID: memcpy(d, p->trace_id, sizeof p->trace_id); break;
    case TDS_PL_FEDAUTHREQUIRED: d[0] = p->fedauth_required; break;
    case TDS_PL_NONCEOPT: memcpy(d, p->nonce, sizeof p->nonce); break;
    default: break;
    }
}

int tds_prelogin_encode(const tds_prelogin *p, uint8_t *out, size_t cap)
{
    if (!p || (!out && cap))
        return TDS_E_ARG;
    if (p->present & ~PL_KNOWN_MASK)
        return TDS_E_ARG;
    /* The instance name must leave room for its NUL in the 128-byte field. */
    if ((p->present & (1u << TDS_PL_INSTOPT)) && instance_len(p) >= sizeof p->instance)
        return TDS_E_ARG;

    size_t nopt = 0, data = 0;
    for (unsigned i = 0; i < PL_NOPTS; i++) {
        if (p->present & (1u << i)) {
            nopt++;
            data += opt_len(p, i);
        }
    }
    size_t table = nopt * PL_ENTRY + 1;
    size_t total = table + data;
    if (total > cap)
        return TDS_E_SPACE;

    size_t t = 0, d = table;
    for (unsigned i = 0; i < PL_NOPTS; i++) {
        if (!(p->present & (1u << i)))
            continue;
        size_t n = opt_len(p, i);
        out[t] = (uint8_t)i;
        tds_wbe16(out + t + 1, (uint16_t)d);
        tds_wbe16(out + t + 3, (uint16_t)n);
        t += PL_ENTRY;
        opt_write(p, i, out + d);
        d += n;
    }
    out[t] = TDS_PL_TERMINATOR;
    return (int)total;
}

/* Reads known option i from its data d (n bytes, n >= the minimum). */
static int opt_read(tds_prelogin *out, unsigned i, const uint8_t *d, size_t n)
{
    switch (i) {
    case TDS_PL_VERSION:
        out->version = tds_be32(d);
        out->subbuild = tds_be16(d + 4);
        break;
    case TDS_PL_ENCRYPTION: out->encryption = d[0]; break;
    case TDS_PL_INSTOPT: {
        const uint8_t *nul = memchr(d, 0, n);
        if (!nul || (size_t)(nul - d) >= sizeof out->instance)
            return TDS_E_PROTO;
        memcpy(out->instance, d, (size_t)(nul - d));
        out->instance[nul - d] = 0;
        break;
    }
    case TDS_PL_THREADID: out->thread_id = tds_be32(d); break;
    case TDS_PL_MARS: out->mars = d[0]; break;
    case TDS_PL_TRACEID: memcpy(out->trace_id, d, sizeof out->trace_id); break;
    case TDS_PL_FEDAUTHREQUIRED: out->fedauth_required = d[0]; break;
    case TDS_PL_NONCEOPT: memcpy(out->nonce, d, sizeof out->nonce); break;
    default: break;
    }
    return TDS_OK;
}

int tds_prelogin_decode(const uint8_t *in, size_t len, tds_prelogin *out)
{
    if (!out || (!in && len))
        return TDS_E_ARG;
    memset(out, 0, sizeof *out);

    /* Find the terminator first: the table's end bounds every offset. */
    size_t table_end = 0;
    for (;;) {
        if (table_end >= len)
            return TDS_E_PROTO; /* no terminator */
        if (in[table_end] == TDS_PL_TERMINATOR)
            break;
        if (len - table_end < PL_ENTRY)
            return TDS_E_PROTO;
        table_end += PL_ENTRY;
    }
    table_end++;

    for (size_t t = 0; in[t] != TDS_PL_TERMINATOR; t += PL_ENTRY) {
        unsigned tok = in[t];
        size_t off = tds_be16(in + t + 1);
        size_t n = tds_be16(in + t + 3);
        if (off < table_end || off > len || n > len - off)
            return TDS_E_PROTO;
        if (tok >= PL_NOPTS)
            continue; /* an option from a later TDS version */
        if (out->present & (1u << tok))
            return TDS_E_PROTO; /* sent twice */
        if (n == 0 && tok != TDS_PL_VERSION && tok != TDS_PL_ENCRYPTION)
            continue; /* sent empty: as if not sent */
        if (n < pl_min[tok])
            return TDS_E_PROTO;
        int rc = opt_read(out, tok, in + off, n);
        if (rc)
            return rc;
        out->present |= 1u << tok;
    }
    return TDS_OK;
}
