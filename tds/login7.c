/*
 * login7.c — LOGIN7 payload encode/decode for TDS 7.4 (MS-TDS 2.2.6.4),
 * password obfuscation, and the FeatureExt block: FEDAUTH (security-token
 * library 0x01 with its token and nonce; ADAL/MSAL library 0x02 with its
 * workflow byte), UTF8_SUPPORT, and SQL Server 2025's JSONSUPPORT (0x0D)
 * and VECTORSUPPORT (0x0E), one version byte each.
 *
 * FEDAUTH Options byte: (bFedAuthLibrary << 1) | fFedAuthEcho — the echo
 * is the low bit whatever the spec's field order suggests (Microsoft's
 * answer on MS-TDS, 2023-12-14; all drivers write it so).
 *
 * Layout: a 94-byte fixed header (numbers little-endian), then the variable
 * data. Each string field is an (offset USHORT, length USHORT) pair: the
 * offset counts bytes from the start of the payload, the length counts
 * UTF-16 code units (a character outside the BMP is two). The encoder
 * writes the data in table order, an empty field getting the current
 * position as its offset (as the spec's 4.2 example does), and puts the
 * FeatureExt block after all other data, reached through a 4-byte offset
 * at ibExtension (cbExtension = 4, OptionFlags3 fExtension set). With no
 * feature requested it writes no FeatureExt and clears fExtension.
 *
 * Limits (as SqlClient enforces them): 128 code units per field, 260 for
 * AtchDBFile; the whole LOGIN7 at most 128K-1 bytes. The encoder rejects
 * more with TDS_E_ARG; the decoder with TDS_E_PROTO, so whatever decodes
 * can be encoded again.
 *
 * Decode: the Length field is the size of the LOGIN7 structure. It must be
 * at least the fixed header and at most the payload length (bytes after it
 * are ignored); every offset and length is checked against Length, never
 * against the payload. A field of length 0 has its offset ignored, as the
 * spec says; any other field must start after the fixed header. Strings
 * invalid in UTF-16 (lone surrogates) are TDS_E_PROTO. A TDS 7.0/7.1
 * LOGIN7 (86-byte header) is TDS_E_UNSUPPORTED.
 */
#include "tds_int.h"

#define L7_FIXED 94
#define L7_FIXED_71 86
#define L7_MAX 131071u /* 128K-1 */
#define L7_CCH_MAX 128
#define L7_CCH_ATTACH 260
#define L7_NONCE 32

/* Offsets inside the fixed header. */
enum {
    O_LENGTH = 0, O_VERSION = 4, O_PKTSIZE = 8, O_PROGVER = 12, O_PID = 16,
    O_CONNID = 20, O_OF1 = 24, O_OF2 = 25, O_TYPEFLAGS = 26, O_OF3 = 27,
    O_TZ = 28, O_LCID = 32,
    O_HOST = 36, O_USER = 40, O_PASS = 44, O_APP = 48, O_SERVER = 52,
    O_EXT = 56, O_CLTINT = 60, O_LANG = 64, O_DB = 68, O_CLIENTID = 72,
    O_SSPI = 78, O_ATTACH = 82, O_CHPASS = 86, O_SSPILONG = 90,
};

/* The string fields in table (and data) order. */
typedef struct l7_field {
    uint8_t off;        /* of its (offset, length) pair in the header */
    uint16_t max;       /* code units */
    bool secret;        /* obfuscated like a password */
    size_t member;      /* offsetof the const char * in tds_login7 */
} l7_field;

static const l7_field l7_fields[] = {
    {O_HOST, L7_CCH_MAX, false, offsetof(tds_login7, hostname)},
    {O_USER, L7_CCH_MAX, false, offsetof(tds_login7, username)},
    {O_PASS, L7_CCH_MAX, true, offsetof(tds_login7, password)},
    {O_APP, L7_CCH_MAX, false, offsetof(tds_login7, appname)},
    {O_SERVER, L7_CCH_MAX, false, offsetof(tds_login7, servername)},
    /* Extension goes here, handled apart */
    {O_CLTINT, L7_CCH_MAX, false, offsetof(tds_login7, library)},
    {O_LANG, L7_CCH_MAX, false, offsetof(tds_login7, language)},
    {O_DB, L7_CCH_MAX, false, offsetof(tds_login7, database)},
    /* SSPI goes here, handled apart */
    {O_ATTACH, L7_CCH_ATTACH, false, offsetof(tds_login7, attach_db_file)},
    {O_CHPASS, L7_CCH_MAX, true, offsetof(tds_login7, change_password)},
};
#define L7_NFIELDS (sizeof l7_fields / sizeof l7_fields[0])
#define L7_FIRST_AFTER_EXT 5  /* index of CltIntName */
#define L7_FIRST_AFTER_SSPI 8 /* index of AtchDBFile */

static const char **field_ptr(tds_login7 *l, const l7_field *f)
{
    return (const char **)(void *)((char *)l + f->member);
}

static const char *field_get(const tds_login7 *l, const l7_field *f)
{
    const char *s;
    memcpy(&s, (const char *)l + f->member, sizeof s);
    return s ? s : "";
}

/* ------------------------------------------------------------ obfuscation */

void tds_password_obfuscate(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(((b[i] << 4) | (b[i] >> 4)) ^ 0xA5);
}

void tds_password_deobfuscate(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t x = (uint8_t)(b[i] ^ 0xA5);
        b[i] = (uint8_t)((x << 4) | (x >> 4));
    }
}

/* ----------------------------------------------------------------- encode */

/* FEDAUTH FeatureData bytes (Options onwards) for l, or a negative
 * tds_err. *tok_bytes gets the token's UTF-16LE byte count. */
static long fedauth_size(const tds_login7 *l, size_t *tok_bytes)
{
    if (l->fedauth_library == TDS_FEDAUTH_LIB_ADAL) {
        /* Options + Workflow; the token comes later in FEDAUTH_TOKEN. */
        if (l->fedauth_workflow < TDS_FEDAUTH_WF_PASSWORD ||
            l->fedauth_workflow > TDS_FEDAUTH_WF_INTERACTIVE || l->fedauth_token)
            return TDS_E_ARG;
        return 2;
    }
    if (l->fedauth_library != TDS_FEDAUTH_LIB_SECURITYTOKEN)
        return TDS_E_ARG;
    const char *t = l->fedauth_token ? l->fedauth_token : "";
    int tb = tds_utf8_to_utf16(t, strlen(t), NULL, 0);
    if (tb < 0)
        return tb;
    if ((size_t)tb > L7_MAX)
        return TDS_E_ARG;
    *tok_bytes = (size_t)tb;
    return 1 + 4 + tb + (l->fedauth_has_nonce ? L7_NONCE : 0);
}

/* FeatureExt block size for l (0 when no feature is requested), or a
 * negative tds_err. *tok_bytes gets the token's UTF-16LE byte count. */
static long feature_size(const tds_login7 *l, size_t *tok_bytes)
{
    *tok_bytes = 0;
    if (!l->fedauth && !l->utf8_support && !l->json_support && !l->vector_support)
        return 0;
    /* Features exist from TDS 7.4 on; never send them to older servers.
     * (TDS 8.0 spells its version 0x08000000, so compare the major byte.) */
    uint8_t major = (uint8_t)(l->tds_version >> 24);
    if (major >= 0x70 && major < 0x74)
        return TDS_E_ARG;
    long n = 1; /* terminator */
    if (l->fedauth) {
        long f = fedauth_size(l, tok_bytes);
        if (f < 0)
            return f;
        n += 1 + 4 + f;
    }
    if (l->utf8_support)
        n += 1 + 4;
    if (l->json_support)
        n += 1 + 4 + 1;
    if (l->vector_support)
        n += 1 + 4 + 1;
    return n;
}

static size_t put_fedauth(const tds_login7 *l, uint8_t *p, size_t tok_bytes)
{
    size_t o = 0;
    bool adal = l->fedauth_library == TDS_FEDAUTH_LIB_ADAL;
    uint32_t dlen = adal ? 2 : (uint32_t)(1 + 4 + tok_bytes + (l->fedauth_has_nonce ? L7_NONCE : 0));
    p[o++] = TDS_FEAT_FEDAUTH;
    tds_wle32(p + o, dlen);
    o += 4;
    p[o++] = (uint8_t)((l->fedauth_library << 1) | (l->fedauth_echo ? 1 : 0));
    if (adal) {
        p[o++] = l->fedauth_workflow;
        return o;
    }
    const char *t = l->fedauth_token ? l->fedauth_token : "";
    tds_wle32(p + o, (uint32_t)tok_bytes);
    o += 4;
    tds_utf8_to_utf16(t, strlen(t), p + o, tok_bytes); /* sized above */
    o += tok_bytes;
    if (l->fedauth_has_nonce) {
        memcpy(p + o, l->fedauth_nonce, L7_NONCE);
        o += L7_NONCE;
    }
    return o;
}

/* A feature whose data is one version byte (JSONSUPPORT, VECTORSUPPORT). */
static size_t put_version_feature(uint8_t *p, uint8_t id, uint8_t version)
{
    p[0] = id;
    tds_wle32(p + 1, 1);
    p[5] = version;
    return 6;
}

static size_t put_feature_block(const tds_login7 *l, uint8_t *p, size_t tok_bytes)
{
    size_t o = 0;
    if (l->fedauth)
        o += put_fedauth(l, p + o, tok_bytes);
    if (l->utf8_support) {
        p[o++] = TDS_FEAT_UTF8_SUPPORT;
        tds_wle32(p + o, 0);
        o += 4;
    }
    if (l->json_support)
        o += put_version_feature(p + o, TDS_FEAT_JSONSUPPORT, l->json_support);
    if (l->vector_support)
        o += put_version_feature(p + o, TDS_FEAT_VECTORSUPPORT, l->vector_support);
    p[o++] = TDS_FEAT_TERMINATOR;
    return o;
}

/* Writes field f's data at out+*pos (already bounds-checked) and its
 * (offset, length) pair. */
static void put_field(const tds_login7 *l, const l7_field *f, uint8_t *out, size_t cap,
                      size_t *pos)
{
    const char *s = field_get(l, f);
    int b = tds_utf8_to_utf16(s, strlen(s), out + *pos, cap - *pos); /* sized already */
    if (f->secret)
        tds_password_obfuscate(out + *pos, (size_t)b);
    tds_wle16(out + f->off, (uint16_t)*pos);
    tds_wle16(out + f->off + 2, (uint16_t)(b / 2));
    *pos += (size_t)b;
}

int tds_login7_encode(const tds_login7 *l, uint8_t *out, size_t cap)
{
    if (!l || (!out && cap))
        return TDS_E_ARG;
    if (l->sspi_len && !l->sspi)
        return TDS_E_ARG;

    /* Size and validate everything before writing a byte. */
    size_t total = L7_FIXED;
    for (size_t i = 0; i < L7_NFIELDS; i++) {
        const char *s = field_get(l, &l7_fields[i]);
        int units = tds_utf8_utf16_units(s, strlen(s));
        if (units < 0)
            return units;
        if (units > l7_fields[i].max)
            return TDS_E_ARG;
        total += (size_t)units * 2;
    }
    size_t tok_bytes;
    long feat = feature_size(l, &tok_bytes);
    if (feat < 0)
        return (int)feat;
    if (l->sspi_len > L7_MAX || (size_t)feat > L7_MAX)
        return TDS_E_ARG;
    total += l->sspi_len + (feat ? 4 + (size_t)feat : 0);
    if (total > L7_MAX)
        return TDS_E_ARG;
    if (total > cap)
        return TDS_E_SPACE;

    memset(out, 0, L7_FIXED);
    tds_wle32(out + O_LENGTH, (uint32_t)total);
    tds_wle32(out + O_VERSION, l->tds_version);
    tds_wle32(out + O_PKTSIZE, l->packet_size);
    tds_wle32(out + O_PROGVER, l->client_prog_ver);
    tds_wle32(out + O_PID, l->client_pid);
    tds_wle32(out + O_CONNID, l->connection_id);
    out[O_OF1] = l->option_flags1;
    out[O_OF2] = l->option_flags2;
    out[O_TYPEFLAGS] = l->type_flags;
    out[O_OF3] = (uint8_t)(feat ? (l->option_flags3 | TDS_LOGIN_OF3_EXTENSION)
                                : (l->option_flags3 & ~TDS_LOGIN_OF3_EXTENSION));
    tds_wle32(out + O_TZ, (uint32_t)l->client_timezone);
    tds_wle32(out + O_LCID, l->client_lcid);
    memcpy(out + O_CLIENTID, l->client_id, sizeof l->client_id);

    size_t pos = L7_FIXED, ext_at = 0;
    for (size_t i = 0; i < L7_NFIELDS; i++) {
        if (i == L7_FIRST_AFTER_EXT) {
            tds_wle16(out + O_EXT, (uint16_t)pos);
            if (feat) {
                tds_wle16(out + O_EXT + 2, 4);
                ext_at = pos;
                pos += 4;
            }
        }
        if (i == L7_FIRST_AFTER_SSPI) {
            tds_wle16(out + O_SSPI, (uint16_t)pos);
            if (l->sspi_len) {
                /* cbSSPI is a USHORT; longer blobs go in cbSSPILong. */
                if (l->sspi_len < 0xFFFF) {
                    tds_wle16(out + O_SSPI + 2, (uint16_t)l->sspi_len);
                } else {
                    tds_wle16(out + O_SSPI + 2, 0xFFFF);
                    tds_wle32(out + O_SSPILONG, l->sspi_len);
                }
                memcpy(out + pos, l->sspi, l->sspi_len);
                pos += l->sspi_len;
            }
        }
        put_field(l, &l7_fields[i], out, cap, &pos);
    }
    if (feat) {
        tds_wle32(out + ext_at, (uint32_t)pos);
        pos += put_feature_block(l, out + pos, tok_bytes);
    }
    return (int)pos; /* == total */
}

/* ----------------------------------------------------------------- decode */

typedef struct strout {
    char *buf;
    size_t cap;
    size_t used;
} strout;

/* UTF-16LE bytes to a NUL-terminated UTF-8 string in so. */
static int str_put(strout *so, const uint8_t *p, size_t bytes, const char **res)
{
    int n = tds_utf16_to_utf8(p, bytes, NULL, 0);
    if (n < 0)
        return n == TDS_E_ENCODING ? TDS_E_PROTO : n;
    if (so->cap - so->used < (size_t)n + 1)
        return TDS_E_SPACE;
    char *dst = so->buf + so->used;
    tds_utf16_to_utf8(p, bytes, dst, (size_t)n);
    dst[n] = 0;
    so->used += (size_t)n + 1;
    *res = dst;
    return TDS_OK;
}

/* Checks a field's (offset, byte count) against the structure. */
static bool span_ok(size_t off, size_t n, size_t len)
{
    if (n == 0)
        return true; /* offset ignored */
    return off >= L7_FIXED && off <= len && n <= len - off;
}

static int decode_field(const uint8_t *in, size_t len, const l7_field *f,
                        strout *so, tds_login7 *out)
{
    size_t off = tds_le16(in + f->off), cch = tds_le16(in + f->off + 2);
    if (cch > f->max || !span_ok(off, cch * 2, len))
        return TDS_E_PROTO;
    if (!f->secret)
        return str_put(so, in + off, cch * 2, field_ptr(out, f));
    uint8_t tmp[L7_CCH_MAX * 2];
    memcpy(tmp, in + off, cch * 2);
    tds_password_deobfuscate(tmp, cch * 2);
    int rc = str_put(so, tmp, cch * 2, field_ptr(out, f));
    memset(tmp, 0, sizeof tmp); /* a secret: do not leave it on the stack */
    return rc;
}

static int decode_fedauth(const uint8_t *d, size_t n, strout *so, tds_login7 *out)
{
    if (out->fedauth || n < 1)
        return TDS_E_PROTO;
    out->fedauth = true;
    out->fedauth_echo = d[0] & 1;
    out->fedauth_library = (uint8_t)(d[0] >> 1);
    if (out->fedauth_library == TDS_FEDAUTH_LIB_ADAL) {
        /* Options + Workflow, nothing else (MS-TDS 2.2.6.4). */
        if (n != 2)
            return TDS_E_PROTO;
        out->fedauth_workflow = d[1];
        return TDS_OK;
    }
    if (out->fedauth_library != TDS_FEDAUTH_LIB_SECURITYTOKEN)
        return TDS_OK; /* other libraries: reported by library only */
    if (n < 5)
        return TDS_E_PROTO;
    size_t tl = tds_le32(d + 1), rest = n - 5;
    if (tl > rest || (tl & 1))
        return TDS_E_PROTO;
    rest -= tl;
    if (rest != 0 && rest != L7_NONCE)
        return TDS_E_PROTO;
    int rc = str_put(so, d + 5, tl, &out->fedauth_token);
    if (rc)
        return rc;
    if (rest) {
        out->fedauth_has_nonce = true;
        memcpy(out->fedauth_nonce, d + 5 + tl, L7_NONCE);
    }
    return TDS_OK;
}

/* JSONSUPPORT / VECTORSUPPORT: exactly one non-zero version byte, once. */
static int decode_version(const uint8_t *d, size_t n, uint8_t *version)
{
    if (*version || n != 1 || d[0] == 0)
        return TDS_E_PROTO;
    *version = d[0];
    return TDS_OK;
}

static int decode_feature(uint8_t id, const uint8_t *d, size_t n, strout *so, tds_login7 *out,
                          bool *utf8_seen)
{
    switch (id) {
    case TDS_FEAT_FEDAUTH:
        return decode_fedauth(d, n, so, out);
    case TDS_FEAT_UTF8_SUPPORT:
        if (*utf8_seen)
            return TDS_E_PROTO;
        *utf8_seen = out->utf8_support = true;
        return TDS_OK;
    case TDS_FEAT_JSONSUPPORT:
        return decode_version(d, n, &out->json_support);
    case TDS_FEAT_VECTORSUPPORT:
        return decode_version(d, n, &out->vector_support);
    default:
        return TDS_OK; /* other features: skipped */
    }
}

static int decode_features(const uint8_t *in, size_t len, strout *so, tds_login7 *out)
{
    size_t ib = tds_le16(in + O_EXT), cb = tds_le16(in + O_EXT + 2);
    if (cb < 4 || !span_ok(ib, 4, len))
        return TDS_E_PROTO;
    size_t fo = tds_le32(in + ib);
    if (fo < L7_FIXED || fo >= len)
        return TDS_E_PROTO;
    tds_rd r;
    tds_rd_init(&r, in + fo, len - fo);
    bool utf8_seen = false;
    for (;;) {
        uint8_t id;
        uint32_t dlen;
        const uint8_t *d;
        if (!tds_rd_u8(&r, &id))
            return TDS_E_PROTO; /* no terminator */
        if (id == TDS_FEAT_TERMINATOR)
            return TDS_OK;
        if (!tds_rd_u32(&r, &dlen) || !tds_rd_bytes(&r, dlen, &d))
            return TDS_E_PROTO;
        int rc = decode_feature(id, d, dlen, so, out, &utf8_seen);
        if (rc)
            return rc;
    }
}

int tds_login7_decode(const uint8_t *in, size_t len, tds_login7 *out,
                      char *strbuf, size_t strcap)
{
    if (!out || (!in && len) || (!strbuf && strcap))
        return TDS_E_ARG;
    memset(out, 0, sizeof *out);
    if (len < 8)
        return TDS_E_PROTO;
    size_t slen = tds_le32(in + O_LENGTH);
    uint32_t ver = tds_le32(in + O_VERSION);
    /* TDS 7.0/7.1 have an 86-byte header (no ChangePassword, cbSSPILong). */
    uint8_t major = (uint8_t)(ver >> 24);
    if (major >= 0x70 && major < 0x72 && len >= L7_FIXED_71 &&
        tds_le16(in + O_HOST) == L7_FIXED_71)
        return TDS_E_UNSUPPORTED;
    if (slen < L7_FIXED || slen > len || slen > L7_MAX)
        return TDS_E_PROTO;
    len = slen; /* bytes after the structure are not ours */

    out->tds_version = ver;
    out->packet_size = tds_le32(in + O_PKTSIZE);
    out->client_prog_ver = tds_le32(in + O_PROGVER);
    out->client_pid = tds_le32(in + O_PID);
    out->connection_id = tds_le32(in + O_CONNID);
    out->option_flags1 = in[O_OF1];
    out->option_flags2 = in[O_OF2];
    out->type_flags = in[O_TYPEFLAGS];
    out->option_flags3 = in[O_OF3];
    out->client_timezone = (int32_t)tds_le32(in + O_TZ);
    out->client_lcid = tds_le32(in + O_LCID);
    memcpy(out->client_id, in + O_CLIENTID, sizeof out->client_id);

    strout so = {strbuf, strcap, 0};
    int rc;
    for (size_t i = 0; i < L7_NFIELDS; i++) {
        if ((rc = decode_field(in, len, &l7_fields[i], &so, out)) != TDS_OK)
            goto fail;
    }

    size_t ib = tds_le16(in + O_SSPI);
    size_t cb = tds_le16(in + O_SSPI + 2);
    if (cb == 0xFFFF) {
        uint32_t lng = tds_le32(in + O_SSPILONG);
        if (lng)
            cb = lng;
    }
    if (!span_ok(ib, cb, len)) {
        rc = TDS_E_PROTO;
        goto fail;
    }
    if (cb) {
        out->sspi = in + ib;
        out->sspi_len = (uint32_t)cb;
    }

    if (out->option_flags3 & TDS_LOGIN_OF3_EXTENSION) {
        if ((rc = decode_features(in, len, &so, out)) != TDS_OK)
            goto fail;
    }
    return TDS_OK;

fail:
    /* Leave no half-decoded secrets behind. */
    if (so.used)
        memset(strbuf, 0, so.used);
    memset(out, 0, sizeof *out);
    return rc;
}
