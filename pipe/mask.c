/*
 * mask.c — ingestr's --mask specs and the algorithms tdspipe has, with
 * ingestr v1's exact outputs (pkg/transformer/column_masker.go): hash and
 * sha256 are lower-case hex SHA-256 of the value's text, md5 hex MD5, hmac
 * hex HMAC-SHA256 keyed with the param; redact "REDACTED"; stars one '*'
 * per character (Unicode code point); fixed the param, else "MASKED";
 * partial keeps N characters (param, default 2; a bad or non-positive N
 * is 2, as ingestr's) at each end. Text in and out is UTF-8. Digests come
 * from OpenSSL's libcrypto: the algorithm is fetched and the context (for
 * hmac: keyed) made once per mask, then reused for every value; nothing is
 * shared between masks or loads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "tds_ascii.h"
#include "transform_int.h"

int pipe_bytes_reserve(pipe_bytes *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

void pipe_bytes_free(pipe_bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static const struct {
    const char *name;
    pipe_mask_alg alg;
} algs[] = {
    {"hash", PIPE_MASK_SHA256}, {"sha256", PIPE_MASK_SHA256}, {"md5", PIPE_MASK_MD5},
    {"hmac", PIPE_MASK_HMAC},   {"redact", PIPE_MASK_REDACT}, {"stars", PIPE_MASK_STARS},
    {"fixed", PIPE_MASK_FIXED}, {"partial", PIPE_MASK_PARTIAL},
};

/* ingestr's other algorithms: refused by name rather than called unknown */
static const char *const later[] = {"email", "phone", "credit_card", "ssn", "random", "first_letter", "uuid",
                                    "sequential", "round", "range", "noise", "date_shift", "year_only",
                                    "month_year"};

static int find_alg(const char *name, size_t len, pipe_mask_alg *out, char *why, size_t cap)
{
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (strlen(algs[i].name) == len && !tds_ascii_ncasecmp(algs[i].name, name, len)) {
            *out = algs[i].alg;
            return 0;
        }
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++)
        if (strlen(later[i]) == len && !tds_ascii_ncasecmp(later[i], name, len)) {
            snprintf(why, cap, "mask algorithm '%s' is not supported by tdspipe yet (use hash, sha256, md5, hmac, "
                     "redact, stars, fixed or partial)", later[i]);
            return -1;
        }
    snprintf(why, cap, "unknown mask algorithm '%.*s' (use hash, sha256, md5, hmac, redact, stars, fixed or partial)",
             (int)(len > 40 ? 40 : len), name);
    return -1;
}

/* partial's N as ingestr's strconv.Atoi: a positive whole number, else 2 */
static size_t partial_chars(const char *p)
{
    if (!p || !*p)
        return 2;
    char *end;
    errno = 0;
    long n = strtol(p, &end, 10);
    if (errno || *end || n <= 0)
        return 2;
    return n > 1000000 ? 1000000 : (size_t)n;
}

int pipe_mask_parse(const char *spec, pipe_mask *m, char *why, size_t cap)
{
    memset(m, 0, sizeof *m);
    const char *c1 = strchr(spec, ':');
    if (!c1) {
        snprintf(why, cap, "invalid mask '%.60s': expected column:algorithm[:param]", spec);
        return -1;
    }
    const char *alg = c1 + 1, *c2 = strchr(alg, ':');
    size_t alen = c2 ? (size_t)(c2 - alg) : strlen(alg);
    if (c1 == spec || !alen) {
        snprintf(why, cap, "invalid mask: column and algorithm are required (column:algorithm[:param])");
        return -1;
    }
    if (find_alg(alg, alen, &m->alg, why, cap))
        return -1;
    if (m->alg == PIPE_MASK_HMAC && (!c2 || !c2[1])) {
        snprintf(why, cap, "hmac mask for column '%.*s' requires a key: pass it as 'column:hmac:KEY'",
                 (int)(c1 - spec > 128 ? 128 : c1 - spec), spec);
        return -1;
    }
    m->column = strndup(spec, (size_t)(c1 - spec));
    m->param = c2 ? strdup(c2 + 1) : NULL;
    if (!m->column || (c2 && !m->param)) {
        pipe_mask_free(m);
        snprintf(why, cap, "out of memory");
        return -1;
    }
    m->chars = partial_chars(m->param);
    return 0;
}

struct pipe_digest {
    EVP_MD *md;        /* sha256, md5 */
    EVP_MD_CTX *ctx;
    EVP_MAC *mac;      /* hmac */
    EVP_MAC_CTX *mctx; /* keyed once; re-initialised with the same key per value */
};

static void digest_free(struct pipe_digest *d)
{
    if (!d)
        return;
    EVP_MD_CTX_free(d->ctx);
    EVP_MD_free(d->md);
    EVP_MAC_CTX_free(d->mctx);
    EVP_MAC_free(d->mac);
    free(d);
}

static struct pipe_digest *digest_new(const pipe_mask *m)
{
    struct pipe_digest *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (m->alg == PIPE_MASK_HMAC) {
        char sha[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha, 0), OSSL_PARAM_construct_end()};
        if ((d->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) && (d->mctx = EVP_MAC_CTX_new(d->mac)) &&
            EVP_MAC_init(d->mctx, (const unsigned char *)m->param, strlen(m->param), params) == 1)
            return d;
    } else if ((d->md = EVP_MD_fetch(NULL, m->alg == PIPE_MASK_MD5 ? "MD5" : "SHA256", NULL)) &&
               (d->ctx = EVP_MD_CTX_new())) {
        return d;
    }
    digest_free(d);
    return NULL;
}

void pipe_mask_free(pipe_mask *m)
{
    digest_free(m->dg);
    free(m->column);
    if (m->param) { /* an hmac key: gone from memory with the load */
        volatile char *p = m->param;
        while (*p)
            *p++ = 0;
        free(m->param);
    }
    memset(m, 0, sizeof *m);
}

static void hex(const unsigned char *d, unsigned n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
}

static int digest(pipe_mask *m, const char *in, size_t len, pipe_bytes *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!m->dg && !(m->dg = digest_new(m)))
        return -1;
    struct pipe_digest *d = m->dg;
    int ok;
    if (d->mctx) {
        size_t ml = 0;
        ok = EVP_MAC_init(d->mctx, NULL, 0, NULL) == 1 && EVP_MAC_update(d->mctx, (const unsigned char *)in, len) == 1 &&
             EVP_MAC_final(d->mctx, md, &ml, sizeof md) == 1;
        n = (unsigned)ml;
    } else {
        ok = EVP_DigestInit_ex(d->ctx, d->md, NULL) == 1 && EVP_DigestUpdate(d->ctx, in, len) == 1 &&
             EVP_DigestFinal_ex(d->ctx, md, &n) == 1;
    }
    if (!ok || pipe_bytes_reserve(out, 2u * n))
        return -1;
    hex(md, n, out->p);
    out->len = 2u * n;
    return 0;
}

static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* Byte offset of the k-th character (k <= characters in s). */
static size_t utf8_offset(const char *s, size_t len, size_t k)
{
    size_t i = 0;
    for (size_t seen = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && seen++ == k)
            break;
    }
    return i;
}

static void put(pipe_bytes *out, const char *s, size_t n)
{
    memcpy(out->p + out->len, s, n);
    out->len += n;
}

static void stars(pipe_bytes *out, size_t n)
{
    memset(out->p + out->len, '*', n);
    out->len += n;
}

int pipe_mask_apply(pipe_mask *m, const char *in, size_t len, pipe_bytes *out)
{
    out->len = 0;
    if (m->alg <= PIPE_MASK_HMAC)
        return digest(m, in, len, out);
    const char *fixed = m->alg == PIPE_MASK_REDACT ? "REDACTED" : m->param ? m->param : "MASKED";
    size_t flen = strlen(fixed);
    if (pipe_bytes_reserve(out, len > flen ? len : flen))
        return -1; /* every output is at most as long as its input or the fixed text */
    size_t n = utf8_chars(in, len);
    switch (m->alg) {
    case PIPE_MASK_STARS:
        stars(out, n);
        break;
    case PIPE_MASK_PARTIAL:
        if (n <= 2 * m->chars) {
            stars(out, n);
        } else {
            size_t head = utf8_offset(in, len, m->chars), tail = utf8_offset(in, len, n - m->chars);
            put(out, in, head);
            stars(out, n - 2 * m->chars);
            put(out, in + tail, len - tail);
        }
        break;
    default: /* redact, fixed */
        put(out, fixed, flen);
        break;
    }
    return 0;
}
