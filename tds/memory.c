/*
 * memory.c — the pluggable allocator, the growable byte buffer and the
 * per-event arena. The arena keeps its blocks across resets so a steady
 * stream of rows allocates nothing.
 */
#include <stdlib.h>

#include "tds_int.h"

static void *std_malloc(void *ud, size_t n) { (void)ud; return malloc(n); }
static void *std_realloc(void *ud, void *p, size_t n) { (void)ud; return realloc(p, n); }
static void std_free(void *ud, void *p) { (void)ud; free(p); }

const tds_alloc tds__default_alloc = { std_malloc, std_realloc, std_free, NULL };

void *tds__malloc(const tds_alloc *a, size_t n) { return a->malloc(a->ud, n ? n : 1); }
void *tds__realloc(const tds_alloc *a, void *p, size_t n) { return a->realloc(a->ud, p, n ? n : 1); }
void tds__free(const tds_alloc *a, void *p) { if (p) a->free(a->ud, p); }

/* Called through a volatile pointer so the stores cannot be elided. */
static void *(*volatile wipe_fn)(void *, int, size_t) = memset;

void tds__wipe(void *p, size_t n)
{
    if (p && n)
        wipe_fn(p, 0, n);
}

int tds_buf_reserve(tds_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return TDS_OK;
    if (n > SIZE_MAX / 2 - b->len)
        return TDS_E_NOMEM;
    size_t want = b->cap ? b->cap : 256;
    while (want - b->len < n)
        want *= 2;
    const tds_alloc *a = b->alloc ? b->alloc : &tds__default_alloc;
    uint8_t *p = tds__realloc(a, b->data, want);
    if (!p)
        return TDS_E_NOMEM;
    b->data = p;
    b->cap = want;
    return TDS_OK;
}

int tds_buf_append(tds_buf *b, const void *p, size_t n)
{
    int rc = tds_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return TDS_OK;
}

void tds_buf_free(tds_buf *b)
{
    tds__free(b->alloc ? b->alloc : &tds__default_alloc, b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

struct tds_arena_block {
    tds_arena_block *next;  /* in the all-blocks list */
    size_t cap;
    size_t used;
    _Alignas(8) uint8_t data[];
};

#define ARENA_BLOCK_MIN 4096

void tds_arena_init(tds_arena *a, const tds_alloc *alloc, size_t limit)
{
    a->head = a->blocks = NULL;
    a->alloc = alloc ? alloc : &tds__default_alloc;
    a->limit = limit;
    a->used_total = 0;
}

static tds_arena_block *arena_block_for(tds_arena *a, size_t n)
{
    /* Reuse a later block from an earlier, larger use before allocating. */
    for (tds_arena_block *b = a->head ? a->head : a->blocks; b; b = b->next) {
        if (b != a->head)
            b->used = 0;
        if (b->cap - b->used >= n)
            return b;
    }
    size_t cap = n > ARENA_BLOCK_MIN ? n : ARENA_BLOCK_MIN;
    tds_arena_block *b = tds__malloc(a->alloc, sizeof *b + cap);
    if (!b)
        return NULL;
    b->cap = cap;
    b->used = 0;
    /* Append at the end so the walk above keeps working in order. */
    b->next = NULL;
    tds_arena_block **pp = &a->blocks;
    while (*pp)
        pp = &(*pp)->next;
    *pp = b;
    return b;
}

void *tds_arena_alloc(tds_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n == 0)
        n = 8;
    if (a->limit && (n > a->limit || a->used_total > a->limit - n))
        return NULL;
    tds_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        b = arena_block_for(a, n);
        if (!b)
            return NULL;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->used_total += n;
    return p;
}

void *tds_arena_grow(tds_arena *a, void *p, size_t old_n, size_t new_n)
{
    tds_arena_block *b = a->head;
    size_t old_r = (old_n + 7) & ~(size_t)7;
    size_t new_r = (new_n + 7) & ~(size_t)7;
    if (p && b && (uint8_t *)p + old_r == b->data + b->used &&
        b->cap - (size_t)((uint8_t *)p - b->data) >= new_r) {
        size_t extra = new_r - old_r;
        if (a->limit && a->used_total > a->limit - extra)
            return NULL;
        b->used += extra;
        a->used_total += extra;
        return p;
    }
    void *q = tds_arena_alloc(a, new_n);
    if (q && p && old_n)
        memcpy(q, p, old_n);
    return q;
}

void tds_arena_reset(tds_arena *a)
{
    for (tds_arena_block *b = a->blocks; b; b = b->next)
        b->used = 0;
    a->head = a->blocks;
    a->used_total = 0;
}

void tds_arena_free(tds_arena *a)
{
    tds_arena_block *b = a->blocks;
    while (b) {
        tds_arena_block *n = b->next;
        tds__free(a->alloc, b);
        b = n;
    }
    a->head = a->blocks = NULL;
    a->used_total = 0;
}

int tds__arena_utf16(tds_arena *a, const uint8_t *p, size_t nchars, tds_str *out)
{
    int need = tds_utf16_to_utf8(p, nchars * 2, NULL, 0);
    if (need < 0)
        return need;
    char *s = tds_arena_alloc(a, (size_t)need + 1);
    if (!s)
        return TDS_E_NOMEM;
    int n = tds_utf16_to_utf8(p, nchars * 2, s, (size_t)need + 1);
    if (n < 0)
        return n;
    s[n] = '\0';
    out->ptr = s;
    out->len = (size_t)n;
    return TDS_OK;
}
