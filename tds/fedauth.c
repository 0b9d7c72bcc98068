/*
 * fedauth.c — the two messages of the FEDAUTH ADAL/MSAL workflow (Entra
 * logins, issue 15): the server's FEDAUTHINFO token (MS-TDS 2.2.7.12) and
 * the client's FEDAUTH_TOKEN message, packet type 0x08 (MS-TDS 2.2.6.3).
 *
 * FEDAUTHINFO data (after the token byte 0xEE and its DWORD TokenLength):
 *   CountOfInfoIDs DWORD, then per option FedAuthInfoID BYTE (0x01 STS URL,
 *   0x02 SPN), FedAuthInfoDataLen DWORD, FedAuthInfoDataOffset DWORD, then
 *   the option data, UTF-16LE. Offsets count from CountOfInfoIDs, i.e.
 *   from the start of what tds_fedauthinfo_decode is given.
 * FEDAUTH_TOKEN payload: DataLen DWORD (bytes after it), token length
 *   DWORD, the token (UTF-16LE, as SqlClient, mssql-jdbc and go-mssqldb
 *   send it), then the 32-byte PRELOGIN nonce iff the server sent NONCEOPT.
 *
 * Decode invariants: nothing is read past len; every option's data lies
 * after the option table and inside the token; lengths are even; text is
 * valid UTF-16 without NUL characters (a NUL would cut the URL whose host
 * decides where a secret may go, or a token short); a known id twice is
 * TDS_E_PROTO.
 * Unknown ids are skipped (bounds-checked all the same).
 *
 * Secrets: the FEDAUTH_TOKEN payload is built in one heap buffer that is
 * wiped before it is freed, and the session zeroes the packets once they
 * are written (tx.secret), as for LOGIN7.
 */
#include "encode_int.h"

#define FA_NONCE 32
#define FA_OPT 9                 /* id + length + offset */
#define FA_ID_STSURL 0x01
#define FA_ID_SPN 0x02
#define FA_TOKEN_MAX (1u << 20)  /* a JWT is a few KB; bound what we build */

/* ------------------------------------------------------------ FEDAUTHINFO */

/* UTF-16LE text into a NUL-terminated UTF-8 buffer of cap bytes. */
static int info_text(const uint8_t *p, size_t n, char *out, size_t cap)
{
    if (n & 1)
        return TDS_E_PROTO;
    for (size_t i = 0; i < n; i += 2)
        if (p[i] == 0 && p[i + 1] == 0)
            return TDS_E_PROTO;
    int w = tds_utf16_to_utf8(p, n, NULL, 0);
    if (w < 0 || (size_t)w >= cap)
        return TDS_E_PROTO;
    tds_utf16_to_utf8(p, n, out, cap);
    out[w] = 0;
    return TDS_OK;
}

/* One option (id, data) into out; *seen tracks the known ids. */
static int info_option(uint8_t id, const uint8_t *d, size_t n, unsigned *seen,
                       tds_fedauthinfo *out)
{
    if (id != FA_ID_STSURL && id != FA_ID_SPN)
        return TDS_OK; /* unknown: skipped */
    if (*seen & (1u << id))
        return TDS_E_PROTO;
    *seen |= 1u << id;
    if (id == FA_ID_STSURL)
        return info_text(d, n, out->sts_url, sizeof out->sts_url);
    return info_text(d, n, out->spn, sizeof out->spn);
}

int tds_fedauthinfo_decode(const uint8_t *data, size_t len, tds_fedauthinfo *out)
{
    if (!out || (!data && len))
        return TDS_E_ARG;
    memset(out, 0, sizeof *out);
    if (len < 4)
        return TDS_E_PROTO;
    uint32_t count = tds_le32(data);
    if (count > (len - 4) / FA_OPT)
        return TDS_E_PROTO;
    size_t table_end = 4 + (size_t)count * FA_OPT;
    unsigned seen = 0;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *opt = data + 4 + (size_t)i * FA_OPT;
        size_t dlen = tds_le32(opt + 1), doff = tds_le32(opt + 5);
        int rc = TDS_E_PROTO;
        if (!dlen || (doff >= table_end && doff <= len && dlen <= len - doff))
            rc = info_option(opt[0], dlen ? data + doff : data, dlen, &seen, out);
        if (rc) {
            memset(out, 0, sizeof *out); /* nothing half-decoded */
            return rc;
        }
    }
    return TDS_OK;
}

/* UTF-16LE byte count of an option's text, or a negative tds_err. */
static long info_bytes(const char *s, size_t max_chars)
{
    if (!s)
        return 0;
    int units = tds_utf8_utf16_units(s, strlen(s));
    if (units < 0)
        return units;
    if ((size_t)units > max_chars)
        return TDS_E_ARG;
    return (long)units * 2;
}

int tds_put_fedauthinfo(tds_session *s, const char *sts_url, const char *spn)
{
    if (!s)
        return TDS_E_ARG;
    if (s->error)
        return s->error;
    if (!s->tx.in_msg)
        return TDS_E_STATE;
    long sb = info_bytes(sts_url, 4096), pb = info_bytes(spn, 4096);
    if (sb < 0)
        return (int)sb;
    if (pb < 0)
        return (int)pb;
    uint32_t count = (uint32_t)(sts_url != NULL) + (uint32_t)(spn != NULL);
    size_t table_end = 4 + (size_t)count * FA_OPT;
    uint8_t head[1 + 4 + 4 + 2 * FA_OPT];
    size_t h = 0;
    head[h++] = TDS_TOK_FEDAUTHINFO;
    tds_wle32(head + h, (uint32_t)(table_end + (size_t)sb + (size_t)pb));
    h += 4;
    tds_wle32(head + h, count);
    h += 4;
    size_t off = table_end;
    const char *text[2] = {sts_url, spn};
    const long bytes[2] = {sb, pb};
    for (int i = 0; i < 2; i++) {
        if (!text[i])
            continue;
        head[h] = (uint8_t)(i == 0 ? FA_ID_STSURL : FA_ID_SPN);
        tds_wle32(head + h + 1, (uint32_t)bytes[i]);
        tds_wle32(head + h + 5, (uint32_t)off);
        h += FA_OPT;
        off += (size_t)bytes[i];
    }
    int rc = tds__put(s, head, h);
    for (int i = 0; i < 2 && rc == TDS_OK; i++)
        if (text[i])
            rc = tds__put_utf16(s, text[i], strlen(text[i]), 0);
    return rc;
}

/* ---------------------------------------------------------- FEDAUTH_TOKEN */

int tds_send_fedauth_token(tds_session *s, const char *token, const uint8_t *nonce)
{
    if (!s || !token)
        return TDS_E_ARG;
    if (s->error)
        return s->error;
    int tb = tds_utf8_to_utf16(token, strlen(token), NULL, 0);
    if (tb < 0)
        return tb;
    if ((size_t)tb > FA_TOKEN_MAX)
        return TDS_E_ARG;
    size_t data_len = 4 + (size_t)tb + (nonce ? FA_NONCE : 0);
    size_t n = 4 + data_len;
    uint8_t *buf = tds__malloc(s->alloc, n);
    if (!buf)
        return TDS_E_NOMEM;
    tds_wle32(buf, (uint32_t)data_len);
    tds_wle32(buf + 4, (uint32_t)tb);
    tds_utf8_to_utf16(token, strlen(token), buf + 8, (size_t)tb); /* sized above */
    if (nonce)
        memcpy(buf + 8 + tb, nonce, FA_NONCE);
    int rc = tds_send_message(s, TDS_PKT_FEDAUTH_TOKEN, buf, n);
    /* The token is a secret: its packets are zeroed once written. */
    if (rc == TDS_OK)
        s->tx.secret = true;
    tds__wipe(buf, n);
    tds__free(s->alloc, buf);
    return rc;
}

int tds_fedauth_token_decode(const uint8_t *in, size_t len, char *tok, size_t cap,
                             bool *has_nonce, uint8_t nonce[32])
{
    if ((!in && len) || !tok || !cap || !has_nonce || !nonce)
        return TDS_E_ARG;
    tok[0] = 0;
    *has_nonce = false;
    if (len < 8)
        return TDS_E_PROTO;
    size_t data_len = tds_le32(in), tl = tds_le32(in + 4);
    /* DataLen covers exactly what follows it (bytes after are not ours,
     * but a DataLen past the payload is a lie). */
    if (data_len > len - 4 || data_len < 4 || tl > data_len - 4 || (tl & 1))
        return TDS_E_PROTO;
    size_t rest = data_len - 4 - tl;
    if (rest != 0 && rest != FA_NONCE)
        return TDS_E_PROTO;
    for (size_t i = 0; i < tl; i += 2)
        if (in[8 + i] == 0 && in[9 + i] == 0)
            return TDS_E_PROTO; /* a NUL would cut the token short */
    int w = tds_utf16_to_utf8(in + 8, tl, NULL, 0);
    if (w < 0)
        return w == TDS_E_ENCODING ? TDS_E_PROTO : w;
    if ((size_t)w >= cap)
        return TDS_E_SPACE;
    tds_utf16_to_utf8(in + 8, tl, tok, cap);
    tok[w] = 0;
    if (rest) {
        *has_nonce = true;
        memcpy(nonce, in + 8 + tl, FA_NONCE);
    }
    return TDS_OK;
}
