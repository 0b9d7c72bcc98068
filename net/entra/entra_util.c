/*
 * entra_util.c — small shared pieces of the Entra module: the token's
 * clear, the clock, the retry back-off, the fetch's time budget, and
 * application/x-www-form-urlencoded bodies.
 *
 * Form bodies carry secrets (client secrets, passwords, assertions): a
 * buffer is never realloc'd in place (that could leave a copy behind in
 * freed memory); it grows by copy-then-wipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "entra_int.h"

void entra_token_clear(entra_token *t)
{
    if (!t)
        return;
    if (t->access_token) {
        net_wipe(t->access_token, strlen(t->access_token));
        free(t->access_token);
    }
    t->access_token = NULL;
    t->expires_at = 0;
}

int64_t entra_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

uint32_t entra_retry_delay_ms(const char *retry_after, unsigned attempt, uint32_t base_ms, uint32_t max_ms)
{
    if (retry_after && *retry_after >= '0' && *retry_after <= '9') {
        char *end;
        unsigned long long s = strtoull(retry_after, &end, 10);
        /* compared before multiplying: s * 1000 can wrap to a small value */
        if (*end == '\0')
            return s > max_ms / 1000u ? max_ms : (uint32_t)s * 1000u;
    }
    uint64_t d = (uint64_t)base_ms << (attempt < 20 ? attempt : 20);
    return d > max_ms ? max_ms : (uint32_t)d;
}

void entra_sleep_ms(uint32_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* CLOCK_MONOTONIC ms by which the current fetch must end, 0: none. Per
 * thread: a fetch runs on the thread that asked, and two threads fetching
 * at once each keep their own budget. */
static _Thread_local int64_t budget_deadline;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t entra_budget_begin(uint32_t ms)
{
    int64_t previous = budget_deadline;
    budget_deadline = ms ? mono_ms() + ms : 0;
    return previous;
}

void entra_budget_end(int64_t previous)
{
    budget_deadline = previous;
}

uint32_t entra_budget_ms(uint32_t want)
{
    if (!budget_deadline)
        return want;
    int64_t left = budget_deadline - mono_ms();
    if (left <= 0)
        return 0;
    return (int64_t)want < left ? want : (uint32_t)left;
}

FILE *entra_fopen_regular(const char *path)
{
    /* O_NONBLOCK: opening a FIFO without a writer returns at once */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return NULL;
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
    if (e) {
        close(fd);
        errno = e;
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

/* Unreserved characters of RFC 3986 stay as they are (WHATWG's
 * urlencoded serializer keeps '*' too; leaving it encoded is equally valid). */
static bool form_plain(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static size_t form_put(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (form_plain(*p)) {
            out[n++] = (char)*p;
        } else if (*p == ' ') {
            out[n++] = '+';
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    return n;
}

int entra_form_add(char **b, size_t *len, const char *key, const char *value)
{
    size_t klen = strlen(key), vlen = strlen(value);
    if (klen > SIZE_MAX / 4 || vlen > (SIZE_MAX - *len) / 4 - klen)
        return NET_E_NOMEM;
    size_t cap = *len + 1 + 3 * klen + 1 + 3 * vlen + 1;
    char *nb = malloc(cap);
    if (!nb)
        return NET_E_NOMEM;
    size_t n = 0;
    if (*b && *len) {
        memcpy(nb, *b, *len);
        n = *len;
        nb[n++] = '&';
    }
    n += form_put(nb + n, key);
    nb[n++] = '=';
    n += form_put(nb + n, value);
    nb[n] = '\0';
    if (*b) {
        net_wipe(*b, *len);
        free(*b);
    }
    *b = nb;
    *len = n;
    return NET_OK;
}
