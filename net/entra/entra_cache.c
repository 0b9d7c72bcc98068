/*
 * entra_cache.c — the process-wide token cache (issue 15: "tokens cached
 * per process and refreshed before expiry").
 *
 * A short list under one mutex: a process holds a handful of identities,
 * not thousands. Callers get copies, so no caller ever holds memory the
 * cache may free. An entry is served while it has more than 5 minutes
 * left, or more than half its life when that is shorter (a 4-minute test
 * token is refreshed after 2); tokens of unknown expiry are not cached.
 * Every token leaving the cache (replaced, dropped, expired, evicted) is
 * wiped before it is freed. At most ENTRA_CACHE_MAX entries: the oldest is
 * evicted first.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "entra_int.h"

#define ENTRA_CACHE_MAX 32
#define ENTRA_REFRESH_MARGIN 300 /* seconds */

typedef struct cache_entry {
    struct cache_entry *next;
    char *key;
    entra_token tok;
    int64_t fetched_at;
} cache_entry;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static cache_entry *cache_head; /* newest first; under cache_mu */

static void entry_free(cache_entry *e)
{
    entra_token_clear(&e->tok);
    free(e->key);
    free(e);
}

static bool entry_fresh(const cache_entry *e, int64_t now)
{
    int64_t life = e->tok.expires_at - e->fetched_at;
    int64_t margin = life / 2 < ENTRA_REFRESH_MARGIN ? life / 2 : ENTRA_REFRESH_MARGIN;
    return e->tok.expires_at - now > margin;
}

/* Unlinks and frees the entries for which drop(e) is true; under cache_mu. */
static void cache_remove_if(bool (*drop)(const cache_entry *, const void *), const void *arg)
{
    for (cache_entry **pp = &cache_head; *pp;) {
        cache_entry *e = *pp;
        if (drop(e, arg)) {
            *pp = e->next;
            entry_free(e);
        } else {
            pp = &e->next;
        }
    }
}

static bool has_key(const cache_entry *e, const void *key) { return strcmp(e->key, key) == 0; }
static bool is_stale(const cache_entry *e, const void *now) { return !entry_fresh(e, *(const int64_t *)now); }
static bool any(const cache_entry *e, const void *arg) { (void)e, (void)arg; return true; }

bool entra_cache_get(const char *key, entra_token *out)
{
    bool hit = false;
    int64_t now = entra_now();
    out->access_token = NULL;
    out->expires_at = 0;
    pthread_mutex_lock(&cache_mu);
    cache_remove_if(is_stale, &now);
    for (cache_entry *e = cache_head; e; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            out->access_token = strdup(e->tok.access_token);
            out->expires_at = e->tok.expires_at;
            hit = out->access_token != NULL;
            break;
        }
    }
    pthread_mutex_unlock(&cache_mu);
    return hit;
}

static cache_entry *entry_new(const char *key, const entra_token *t, int64_t now)
{
    cache_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->key = strdup(key);
    e->tok.access_token = strdup(t->access_token);
    e->tok.expires_at = t->expires_at;
    e->fetched_at = now;
    if (!e->key || !e->tok.access_token) {
        entry_free(e);
        return NULL;
    }
    return e;
}

/* Frees the entries past the first max-1 (the oldest); under cache_mu. */
static void cache_trim(size_t max)
{
    size_t n = 0;
    for (cache_entry **pp = &cache_head; *pp;) {
        if (++n < max) {
            pp = &(*pp)->next;
            continue;
        }
        cache_entry *e = *pp;
        *pp = e->next;
        entry_free(e);
    }
}

void entra_cache_put(const char *key, const entra_token *t)
{
    int64_t now = entra_now();
    if (!t || !t->access_token || t->expires_at <= now)
        return; /* unknown or past expiry: fetch again next time */
    cache_entry *e = entry_new(key, t, now);
    if (!e)
        return; /* a cache miss later, nothing worse */
    pthread_mutex_lock(&cache_mu);
    cache_remove_if(has_key, key);
    cache_remove_if(is_stale, &now);
    cache_trim(ENTRA_CACHE_MAX);
    e->next = cache_head;
    cache_head = e;
    pthread_mutex_unlock(&cache_mu);
}

void entra_cache_drop(const char *key)
{
    pthread_mutex_lock(&cache_mu);
    cache_remove_if(has_key, key);
    pthread_mutex_unlock(&cache_mu);
}

void entra_cache_clear_all(void)
{
    pthread_mutex_lock(&cache_mu);
    cache_remove_if(any, NULL);
    pthread_mutex_unlock(&cache_mu);
}
