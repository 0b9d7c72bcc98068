/*
 * fuzz_login7.c — tds_login7_decode on arbitrary payloads, as a server
 * calls it on a received LOGIN7. Whatever decodes is encoded again and
 * decoded again; the two decodes must agree field by field. Encoding may
 * refuse only with TDS_E_ARG (a feature the encoder does not send: another
 * FEDAUTH library, features below TDS 7.4, or fields that shared bytes and
 * no longer fit 128K-1 once laid out separately).
 */
#include <stdlib.h>
#include <string.h>

#include "tds.h"

static char sb1[1 << 18], sb2[1 << 18];
static uint8_t enc[1 << 18];

static int str_eq(const char *x, const char *y)
{
    return strcmp(x ? x : "", y ? y : "") == 0;
}

static int same(const tds_login7 *a, const tds_login7 *b)
{
    bool feat = a->fedauth || a->utf8_support || a->json_support || a->vector_support;
    uint8_t of3 = (uint8_t)(feat ? a->option_flags3 | TDS_LOGIN_OF3_EXTENSION
                                 : a->option_flags3 & ~TDS_LOGIN_OF3_EXTENSION);
    if (a->tds_version != b->tds_version || a->packet_size != b->packet_size ||
        a->client_prog_ver != b->client_prog_ver || a->client_pid != b->client_pid ||
        a->connection_id != b->connection_id || a->option_flags1 != b->option_flags1 ||
        a->option_flags2 != b->option_flags2 || a->type_flags != b->type_flags ||
        of3 != b->option_flags3 || a->client_timezone != b->client_timezone ||
        a->client_lcid != b->client_lcid || memcmp(a->client_id, b->client_id, 6) != 0)
        return 0;
    const char *const *sa[] = {&a->hostname, &a->username, &a->password, &a->appname,
                               &a->servername, &a->library, &a->language, &a->database,
                               &a->attach_db_file, &a->change_password};
    const char *const *sbp[] = {&b->hostname, &b->username, &b->password, &b->appname,
                                &b->servername, &b->library, &b->language, &b->database,
                                &b->attach_db_file, &b->change_password};
    for (size_t i = 0; i < sizeof sa / sizeof sa[0]; i++)
        if (!str_eq(*sa[i], *sbp[i]))
            return 0;
    if (a->sspi_len != b->sspi_len || (a->sspi_len && memcmp(a->sspi, b->sspi, a->sspi_len)))
        return 0;
    if (a->fedauth != b->fedauth || a->utf8_support != b->utf8_support ||
        a->json_support != b->json_support || a->vector_support != b->vector_support)
        return 0;
    if (a->fedauth && a->fedauth_workflow != b->fedauth_workflow)
        return 0;
    if (a->fedauth && (a->fedauth_echo != b->fedauth_echo ||
                       a->fedauth_library != b->fedauth_library ||
                       !str_eq(a->fedauth_token, b->fedauth_token) ||
                       a->fedauth_has_nonce != b->fedauth_has_nonce ||
                       (a->fedauth_has_nonce && memcmp(a->fedauth_nonce, b->fedauth_nonce, 32))))
        return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tds_login7 a, b;
    /* A small string buffer now and then walks the TDS_E_SPACE paths. */
    size_t cap = size && (data[size - 1] & 7) == 0 ? data[0] : sizeof sb1;
    int rc = tds_login7_decode(data, size, &a, sb1, cap);
    if (rc == TDS_E_SPACE && cap < sizeof sb1)
        rc = tds_login7_decode(data, size, &a, sb1, sizeof sb1);
    if (rc != TDS_OK)
        return 0;
    int n = tds_login7_encode(&a, enc, sizeof enc);
    if (n == TDS_E_ARG)
        return 0;
    if (n <= 0)
        abort();
    if (tds_login7_decode(enc, (size_t)n, &b, sb2, sizeof sb2) != TDS_OK)
        abort();
    if (!same(&a, &b))
        abort();
    return 0;
}
