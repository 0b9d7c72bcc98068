/*
 * token_row.c — ROW and NBCROW (MS-TDS 2.2.7.19, 2.2.7.13), including PLP
 * values (2.2.5.2.3) assembled into the arena or streamed as
 * TDS_EV_PLP_CHUNK events.
 *
 * This is the hot path. A row that is all in the buffer is decoded in one
 * pass: a switch on the column's precomputed framing class, a bounds check
 * and a view pointing into rx.buf. A row that is not all here is suspended
 * at the first unfinished column (dec.rcol): the views already made are
 * saved as offsets from rx.keep and rebased on resume, so a row spanning
 * N packets costs O(bytes + N * columns), never a re-parse.
 *
 * PLP: the 8-byte total (NULL = ~0, unknown = ~0 - 1), then chunks of a
 * 4-byte length, then a zero terminator. Chunk data is copied into the
 * arena as it arrives (a value whose single chunk is all here is viewed in
 * place instead). Once a PLP value is partly consumed, the earlier columns
 * are copied into the arena ("detached") and rx.keep moves up to the read
 * position, so the buffer never holds a big value twice. In stream mode the
 * chunks go out as events straight from rx.buf; the row's earlier columns
 * are detached before the first chunk event so they are still valid at the
 * ROW event.
 *
 * max_row bounds the non-streamed bytes of one row (wire bytes, PLP data
 * included), checked before waiting for more input.
 */
#include "tds_int.h"

#define PLP_DONE 2 /* the value is complete */
#define PLP_NEXT 3 /* go on with the next phase */

#define VF_NOT_IN_BUF (TDS_VF_NULL | TDS_VF_ASSEMBLED | TDS_VF_STREAMED)

static const uint8_t empty_value[1];

/* Copies the finished columns that still point into rx.buf into the arena
 * and moves rx.keep up to rx.pos. */
static int detach(tds_session *s, uint16_t upto)
{
    tds_rx *rx = &s->rx;
    tds_tokdec *d = &s->dec;
    for (uint16_t j = 0; j < upto; j++) {
        tds_value *v = &d->values[j];
        if (v->flags & VF_NOT_IN_BUF)
            continue;
        uint8_t *q = tds_arena_alloc(&s->arena, v->len);
        if (!q)
            return tds__fail(s, TDS_E_NOMEM, rx->pos);
        if (v->len)
            memcpy(q, v->ptr, v->len);
        v->ptr = q;
        v->flags |= TDS_VF_ASSEMBLED;
    }
    d->rbytes += rx->pos - rx->keep;
    rx->keep = rx->pos;
    return TDS_OK;
}

/* Saves the in-buffer views of columns [0, rcol) as offsets from keep and
 * marks the row suspended. */
static int suspend(tds_session *s)
{
    tds_rx *rx = &s->rx;
    tds_tokdec *d = &s->dec;
    const uint8_t *base = rx->buf + rx->keep;
    for (uint16_t j = 0; j < d->rcol; j++) {
        const tds_value *v = &d->values[j];
        if (!(v->flags & VF_NOT_IN_BUF))
            d->voff[j] = (uint32_t)(v->ptr - base);
    }
    d->state = TDS__TS_ROW;
    return 0;
}

/* The value at rx.pos needs `want` bytes from there. */
static int row_short(tds_session *s, size_t want)
{
    tds_rx *rx = &s->rx;
    size_t have = s->dec.rbytes + (rx->pos - rx->keep);
    if (want > s->max_row || have > s->max_row - want)
        return tds__fail(s, TDS_E_TOOBIG, rx->pos);
    if (rx->msg_complete)
        return tds__fail(s, TDS_E_PROTO, rx->pos);
    return suspend(s);
}

/* Waiting inside a PLP value: what came so far is in the arena (or was
 * streamed), so nothing before rx.pos is needed any more. */
static int plp_wait(tds_session *s, uint16_t i)
{
    if (s->rx.msg_complete)
        return tds__fail(s, TDS_E_PROTO, s->rx.pos);
    int rc = detach(s, i);
    if (rc)
        return rc;
    return suspend(s);
}

static int plp_event(tds_session *s, tds_event *ev, uint16_t i, const uint8_t *data, size_t len)
{
    tds_rx *rx = &s->rx;
    ev->type = TDS_EV_PLP_CHUNK;
    ev->token = s->dec.rtok;
    ev->u.plp.col = i;
    ev->u.plp.data = data;
    ev->u.plp.len = len;
    rx->keep = rx->pos;
    s->dec.state = TDS__TS_ROW;
    return 1;
}

/* Reserves room for `need` assembled bytes of the PLP value. */
static int plp_room(tds_session *s, uint64_t need)
{
    tds_tokdec *d = &s->dec;
    if (need <= d->plp_cap)
        return TDS_OK;
    uint64_t cap = d->plp_cap ? (uint64_t)d->plp_cap * 2 : 256;
    if (cap < need)
        cap = need;
    if (d->plp_known && cap > d->plp_total)
        cap = d->plp_total;
    uint8_t *nb = tds_arena_grow(&s->arena, d->plp_buf, (size_t)d->plp_sum, (size_t)cap);
    if (!nb)
        return tds__fail(s, TDS_E_NOMEM, s->rx.pos);
    d->plp_buf = nb;
    d->plp_cap = (size_t)cap;
    return TDS_OK;
}

/* Total length of a PLP value (phase 0). */
static int plp_start(tds_session *s, uint16_t i)
{
    tds_rx *rx = &s->rx;
    tds_tokdec *d = &s->dec;
    const uint8_t *p = rx->buf + rx->pos;
    size_t avail = rx->end - rx->pos;
    tds_value *v = &d->values[i];
    if (avail < 8)
        return row_short(s, 8);
    uint64_t total = tds_le64(p);
    if (total == TDS__PLP_NULL) {
        v->ptr = NULL; v->len = 0; v->flags = TDS_VF_NULL;
        rx->pos += 8;
        return PLP_DONE;
    }
    d->plp_known = total != TDS__PLP_UNKNOWN;
    d->plp_total = total;
    d->plp_sum = 0;
    d->plp_buf = NULL;
    d->plp_cap = 0;
    d->plp_stream = s->stream_plp;
    if (!d->plp_stream) {
        if (d->plp_known && total > s->max_row)
            return tds__fail(s, TDS_E_TOOBIG, rx->pos);
        /* One chunk, all here: view it in place. */
        if (avail >= 16) {
            uint32_t n = tds_le32(p + 8);
            if (n && n <= 0x7FFFFFFFu && (!d->plp_known || total == n) &&
                avail - 16 >= n && tds_le32(p + 12 + n) == 0) {
                v->ptr = p + 12; v->len = n; v->flags = 0;
                rx->pos += 16 + (size_t)n;
                return PLP_DONE;
            }
        }
    }
    rx->pos += 8;
    d->plp_phase = 1;
    if (d->plp_stream) {
        int rc = detach(s, i);
        if (rc)
            return rc;
    }
    return PLP_NEXT;
}

/* Chunk header (phase 1). */
static int plp_chunk(tds_session *s, tds_event *ev, uint16_t i)
{
    tds_rx *rx = &s->rx;
    tds_tokdec *d = &s->dec;
    tds_value *v = &d->values[i];
    if (rx->end - rx->pos < 4)
        return plp_wait(s, i);
    uint32_t n = tds_le32(rx->buf + rx->pos);
    if (n == 0) {
        if (d->plp_known && d->plp_sum != d->plp_total)
            return tds__fail(s, TDS_E_PROTO, rx->pos);
        rx->pos += 4;
        d->plp_phase = 0;
        v->len = d->plp_sum > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)d->plp_sum;
        if (d->plp_stream) {
            v->ptr = NULL;
            v->flags = TDS_VF_STREAMED;
            d->rcol = (uint16_t)(i + 1);
            return plp_event(s, ev, i, NULL, 0);
        }
        v->ptr = d->plp_buf ? d->plp_buf : empty_value;
        v->flags = TDS_VF_ASSEMBLED;
        return PLP_DONE;
    }
    if (n > 0x7FFFFFFFu || (d->plp_known && n > d->plp_total - d->plp_sum))
        return tds__fail(s, TDS_E_PROTO, rx->pos);
    if (!d->plp_stream) {
        size_t have = d->rbytes + (rx->pos - rx->keep);
        if (n > s->max_row || have > s->max_row - n)
            return tds__fail(s, TDS_E_TOOBIG, rx->pos);
    }
    rx->pos += 4;
    d->plp_left = n;
    d->plp_phase = 2;
    return PLP_NEXT;
}

/* Chunk data (phase 2). */
static int plp_data(tds_session *s, tds_event *ev, uint16_t i)
{
    tds_rx *rx = &s->rx;
    tds_tokdec *d = &s->dec;
    size_t k = rx->end - rx->pos;
    if (k > d->plp_left)
        k = d->plp_left;
    if (k == 0)
        return plp_wait(s, i);
    const uint8_t *p = rx->buf + rx->pos;
    if (!d->plp_stream) {
        int rc = plp_room(s, d->plp_sum + k);
        if (rc)
            return rc;
        memcpy(d->plp_buf + d->plp_sum, p, k);
    }
    d->plp_sum += k;
    d->plp_left -= (uint32_t)k;
    rx->pos += k;
    if (d->plp_left == 0)
        d->plp_phase = 1;
    if (d->plp_stream) {
        d->rcol = i;
        return plp_event(s, ev, i, p, k);
    }
    return PLP_NEXT;
}

/* Runs the PLP value of column i from its current phase. Returns PLP_DONE,
 * 1 (a chunk event), 0 (suspended) or an error. The phases return PLP_NEXT
 * to go on. */
static int plp_run(tds_session *s, tds_event *ev, uint16_t i)
{
    for (;;) {
        int rc;
        switch (s->dec.plp_phase) {
        case 0: rc = plp_start(s, i); break;
        case 1: rc = plp_chunk(s, ev, i); break;
        default: rc = plp_data(s, ev, i); break;
        }
        if (rc != PLP_NEXT)
            return rc;
    }
}

static int row_run(tds_session *s, tds_event *ev)
{
    tds_rx *rx = &s->rx;
    tds_tokdec *d = &s->dec;
    const uint8_t *buf = rx->buf, *p = buf + rx->pos, *end = buf + rx->end;
    const uint16_t n = d->ncols;
    const bool nbc = d->rtok == TDS_TOK_NBCROW;
    for (uint16_t i = d->rcol; i < n; i++) {
        tds_value *v = &d->values[i];
        if (nbc && ((d->nbc[i >> 3] >> (i & 7)) & 1)) {
            v->ptr = NULL; v->len = 0; v->flags = TDS_VF_NULL;
            continue;
        }
        const tds__colx *x = &d->x[i];
        size_t used;
        if (x->cls == TDS__CL_PLP) {
            rx->pos = (size_t)(p - buf);
            d->rcol = i;
            int rc = plp_run(s, ev, i);
            if (rc != PLP_DONE)
                return rc;
            p = buf + rx->pos;
            continue;
        }
        int rc = tds__frame(x, p, (size_t)(end - p), v, &used);
        if (rc == TDS_OK) {
            p += used;
            continue;
        }
        if (rc == TDS_E_PROTO)
            return tds__fail(s, TDS_E_PROTO, (size_t)(p - buf) + used);
        d->rcol = i;
        rx->pos = (size_t)(p - buf);
        return row_short(s, used);
    }
    rx->pos = (size_t)(p - buf);
    if (d->rbytes + (rx->pos - rx->keep) > s->max_row)
        return tds__fail(s, TDS_E_TOOBIG, rx->pos);
    d->state = TDS__TS_IDLE;
    ev->type = TDS_EV_ROW;
    ev->token = d->rtok;
    ev->u.row.ncols = n;
    ev->u.row.cols = d->cols;
    ev->u.row.values = d->values;
    rx->keep = rx->pos;
    return 1;
}

int tds__tok_row(tds_session *s, tds_event *ev)
{
    tds_rx *rx = &s->rx;
    tds_tokdec *d = &s->dec;
    size_t pos = rx->pos;
    if (!d->have_meta)
        return tds__fail(s, TDS_E_PROTO, pos);
    uint8_t tok = rx->buf[pos];
    size_t hdr = 1;
    if (tok == TDS_TOK_NBCROW) {
        size_t nb = ((size_t)d->ncols + 7) / 8;
        if (rx->end - pos < 1 + nb)
            return tds__tok_short(s, pos + 1);
        if (nb)
            memcpy(d->nbc, rx->buf + pos + 1, nb);
        hdr += nb;
    }
    d->rtok = tok;
    d->rcol = 0;
    d->rbytes = 0;
    d->plp_phase = 0;
    rx->keep = pos;
    rx->pos = pos + hdr;
    return row_run(s, ev);
}

int tds__tok_row_resume(tds_session *s, tds_event *ev)
{
    tds_rx *rx = &s->rx;
    tds_tokdec *d = &s->dec;
    const uint8_t *base = rx->buf + rx->keep;
    for (uint16_t j = 0; j < d->rcol; j++) {
        tds_value *v = &d->values[j];
        if (!(v->flags & VF_NOT_IN_BUF))
            v->ptr = base + d->voff[j];
    }
    return row_run(s, ev);
}
