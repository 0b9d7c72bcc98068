/*
 * token_misc.c — every token but COLMETADATA and rows: DONE/DONEPROC/
 * DONEINPROC, RETURNSTATUS, RETURNVALUE, ORDER, COLINFO, TABNAME, ERROR,
 * INFO, ENVCHANGE (and its effects on the session), LOGINACK,
 * FEATUREEXTACK, FEDAUTHINFO.
 *
 * Invariants: a token is decoded only once it is all in the buffer (these
 * tokens are small, or length-prefixed); until then nothing is allocated
 * and rx.pos stays at the token. Inside a length-prefixed body every field
 * must fit the declared length exactly: running past it, or leaving bytes
 * over, is TDS_E_PROTO at the offending field.
 */
#include "tds_int.h"

#define MAX_FEATURE_DATA (1u << 20)
#define MAX_FEDAUTHINFO (1u << 20)

static int body_fail(tds_session *s, const tds_rd *rd)
{
    return tds__fail(s, TDS_E_PROTO, tds_rd_off(rd));
}

/* The body was read exactly: emit. */
static int body_end(tds_session *s, tds_event *ev, tds_event_type type, const tds_rd *rd)
{
    if (rd->p != rd->end)
        return body_fail(s, rd);
    return tds__tok_event(s, ev, type, (size_t)(rd->end - s->rx.buf));
}

/* B_VARCHAR (lsize 1) or US_VARCHAR (lsize 2) as UTF-8 in the arena. */
static int rd_str(tds_session *s, tds_rd *rd, size_t lsize, tds_str *out)
{
    const uint8_t *at = rd->p, *p;
    uint16_t n;
    uint8_t b;
    if (lsize == 1) {
        if (!tds_rd_u8(rd, &b))
            return body_fail(s, rd);
        n = b;
    } else if (!tds_rd_u16(rd, &n)) {
        return body_fail(s, rd);
    }
    if (!tds_rd_bytes(rd, (size_t)n * 2, &p)) {
        rd->p = at;
        return body_fail(s, rd);
    }
    if (tds__str16(&s->arena, p, n, out))
        return tds__fail(s, TDS_E_NOMEM, tds_rd_off(rd));
    return TDS_OK;
}

/* B_VARBYTE (lsize 1) or L_VARBYTE (lsize 4). */
static int rd_varbyte(tds_session *s, tds_rd *rd, size_t lsize, const uint8_t **p, size_t *n)
{
    const uint8_t *at = rd->p;
    uint32_t len;
    uint8_t b;
    if (lsize == 1) {
        if (!tds_rd_u8(rd, &b))
            return body_fail(s, rd);
        len = b;
    } else if (!tds_rd_u32(rd, &len)) {
        return body_fail(s, rd);
    }
    if (!tds_rd_bytes(rd, len, p)) {
        rd->p = at;
        return body_fail(s, rd);
    }
    *n = len;
    if (len == 0)
        *p = NULL;
    return TDS_OK;
}

/* ------------------------------------------------------------ fixed size */

int tds__tok_done(tds_session *s, tds_event *ev)
{
    tds_rx *rx = &s->rx;
    size_t pos = rx->pos;
    if (rx->end - pos < 13)
        return tds__tok_short(s, pos + 1);
    const uint8_t *p = rx->buf + pos;
    ev->u.done.status = tds_le16(p + 1);
    ev->u.done.curcmd = tds_le16(p + 3);
    ev->u.done.rowcount = tds_le64(p + 5);
    return tds__tok_event(s, ev, TDS_EV_DONE, pos + 13);
}

int tds__tok_returnstatus(tds_session *s, tds_event *ev)
{
    tds_rx *rx = &s->rx;
    size_t pos = rx->pos;
    if (rx->end - pos < 5)
        return tds__tok_short(s, pos + 1);
    ev->u.return_status = (int32_t)tds_le32(rx->buf + pos + 1);
    return tds__tok_event(s, ev, TDS_EV_RETURNSTATUS, pos + 5);
}

/* ------------------------------------------------------ length-prefixed */

int tds__tok_order(tds_session *s, tds_event *ev)
{
    tds_rd rd;
    int rc = tds__tok_body(s, 2, 0xFFFF, &rd);
    if (rc <= 0)
        return rc;
    size_t len = tds_rd_left(&rd);
    if (len & 1)
        return tds__fail(s, TDS_E_PROTO, s->rx.pos + 1);
    uint16_t n = (uint16_t)(len / 2);
    uint16_t *cols = tds_arena_alloc(&s->arena, (size_t)n * 2);
    if (!cols)
        return tds__fail(s, TDS_E_NOMEM, s->rx.pos);
    for (uint16_t i = 0; i < n; i++)
        tds_rd_u16(&rd, &cols[i]);
    ev->u.order.n = n;
    ev->u.order.cols = cols;
    return body_end(s, ev, TDS_EV_ORDER, &rd);
}

static int raw_token(tds_session *s, tds_event *ev, tds_event_type type, size_t lsize, size_t max)
{
    tds_rd rd;
    int rc = tds__tok_body(s, lsize, max, &rd);
    if (rc <= 0)
        return rc;
    ev->u.raw.data = rd.p;
    ev->u.raw.len = tds_rd_left(&rd);
    rd.p = rd.end;
    return body_end(s, ev, type, &rd);
}

int tds__tok_colinfo(tds_session *s, tds_event *ev) { return raw_token(s, ev, TDS_EV_COLINFO, 2, 0xFFFF); }
int tds__tok_tabname(tds_session *s, tds_event *ev) { return raw_token(s, ev, TDS_EV_TABNAME, 2, 0xFFFF); }
int tds__tok_fedauthinfo(tds_session *s, tds_event *ev)
{
    return raw_token(s, ev, TDS_EV_FEDAUTHINFO, 4, MAX_FEDAUTHINFO);
}

/* ERROR and INFO (MS-TDS 2.2.7.10, 2.2.7.13). */
int tds__tok_message(tds_session *s, tds_event *ev)
{
    tds_rd rd;
    int rc = tds__tok_body(s, 2, 0xFFFF, &rd);
    if (rc <= 0)
        return rc;
    tds_server_msg *m = &ev->u.msg;
    memset(m, 0, sizeof *m);
    uint32_t number, line;
    if (!tds_rd_u32(&rd, &number) || !tds_rd_u8(&rd, &m->state) || !tds_rd_u8(&rd, &m->severity))
        return body_fail(s, &rd);
    if ((rc = rd_str(s, &rd, 2, &m->message)) || (rc = rd_str(s, &rd, 1, &m->server)) ||
        (rc = rd_str(s, &rd, 1, &m->procedure)))
        return rc;
    if (!tds_rd_u32(&rd, &line))
        return body_fail(s, &rd);
    m->number = (int32_t)number;
    m->line = (int32_t)line;
    bool error = s->rx.buf[s->rx.pos] == TDS_TOK_ERROR;
    return body_end(s, ev, error ? TDS_EV_ERROR : TDS_EV_INFO, &rd);
}

/* LOGINACK (MS-TDS 2.2.7.14): TDSVersion is sent most significant byte
 * first (74 00 00 04). */
int tds__tok_loginack(tds_session *s, tds_event *ev)
{
    tds_rd rd;
    int rc = tds__tok_body(s, 2, 0xFFFF, &rd);
    if (rc <= 0)
        return rc;
    tds_loginack *a = &ev->u.loginack;
    memset(a, 0, sizeof *a);
    const uint8_t *ver, *pv;
    if (!tds_rd_u8(&rd, &a->interface) || !tds_rd_bytes(&rd, 4, &ver))
        return body_fail(s, &rd);
    a->tds_version = tds_be32(ver);
    if ((rc = rd_str(s, &rd, 1, &a->prog_name)))
        return rc;
    if (!tds_rd_bytes(&rd, 4, &pv))
        return body_fail(s, &rd);
    a->major = pv[0];
    a->minor = pv[1];
    a->build = tds_be16(pv + 2);
    return body_end(s, ev, TDS_EV_LOGINACK, &rd);
}

/* ------------------------------------------------------------ ENVCHANGE */

/* Packet size as decimal text, 512–32767; anything else is malformed. */
static int env_packet_size(tds_session *s, const tds_str *t, size_t at)
{
    uint32_t v = 0;
    if (t->len == 0 || t->len > 5)
        return tds__fail(s, TDS_E_PROTO, at);
    for (size_t i = 0; i < t->len; i++) {
        if (t->ptr[i] < '0' || t->ptr[i] > '9')
            return tds__fail(s, TDS_E_PROTO, at);
        v = v * 10 + (uint32_t)(t->ptr[i] - '0');
    }
    if (tds_set_packet_size(s, v) != TDS_OK)
        return tds__fail(s, TDS_E_PROTO, at);
    return TDS_OK;
}

/* Copies a UTF-8 name into a fixed buffer, cut at a character boundary. */
static void copy_name(char *dst, size_t cap, const tds_str *src)
{
    size_t n = src->len < cap - 1 ? src->len : cap - 1;
    while (n > 0 && n < src->len && ((unsigned char)src->ptr[n] & 0xC0) == 0x80)
        n--;
    memcpy(dst, src->ptr, n);
    dst[n] = '\0';
}

/* Routing (type 20): ValueLength(2) Protocol(1, 0 = TCP) Port(2)
 * AlternateServer(US_VARCHAR); the old value is two zero bytes. */
static int env_routing(tds_session *s, tds_rd *rd, tds_envchange *e)
{
    uint16_t vlen, port, zero;
    uint8_t proto;
    const uint8_t *vstart;
    if (!tds_rd_u16(rd, &vlen))
        return body_fail(s, rd);
    vstart = rd->p;
    if (tds_rd_left(rd) < vlen) {
        rd->p -= 2;
        return body_fail(s, rd);
    }
    if (!tds_rd_u8(rd, &proto))
        return body_fail(s, rd);
    if (proto != 0) {
        rd->p--;
        return body_fail(s, rd);
    }
    if (!tds_rd_u16(rd, &port))
        return body_fail(s, rd);
    int rc = rd_str(s, rd, 2, &e->routing_server);
    if (rc)
        return rc;
    if ((size_t)(rd->p - vstart) != vlen) {
        rd->p = vstart - 2;
        return body_fail(s, rd);
    }
    e->routing_port = port;
    e->new_text = e->routing_server;
    if (!tds_rd_u16(rd, &zero) || zero != 0)
        return body_fail(s, rd);
    return TDS_OK;
}

int tds__tok_envchange(tds_session *s, tds_event *ev)
{
    tds_rd rd;
    int rc = tds__tok_body(s, 2, 0xFFFF, &rd);
    if (rc <= 0)
        return rc;
    tds_envchange *e = &ev->u.env;
    memset(e, 0, sizeof *e);
    const uint8_t *type_at = rd.p;
    if (!tds_rd_u8(&rd, &e->type))
        return body_fail(s, &rd);
    const uint8_t *new_at = rd.p;
    switch (e->type) {
    case TDS_ENV_DATABASE: case TDS_ENV_LANGUAGE: case TDS_ENV_CHARSET: case TDS_ENV_PACKETSIZE:
    case TDS_ENV_SORT_LCID: case TDS_ENV_SORT_FLAGS: case TDS_ENV_MIRROR_PARTNER:
    case TDS_ENV_USER_INSTANCE:
        if ((rc = rd_str(s, &rd, 1, &e->new_text)) || (rc = rd_str(s, &rd, 1, &e->old_text)))
            return rc;
        break;
    case TDS_ENV_COLLATION: case TDS_ENV_BEGIN_TRAN: case TDS_ENV_COMMIT_TRAN:
    case TDS_ENV_ROLLBACK_TRAN: case TDS_ENV_ENLIST_DTC: case TDS_ENV_DEFECT_TRAN:
    case TDS_ENV_TRAN_MANAGER_ADDR: case TDS_ENV_TRAN_ENDED: case TDS_ENV_RESET_ACK:
        if ((rc = rd_varbyte(s, &rd, 1, &e->new_raw, &e->new_raw_len)) ||
            (rc = rd_varbyte(s, &rd, 1, &e->old_raw, &e->old_raw_len)))
            return rc;
        break;
    case TDS_ENV_PROMOTE_TRAN:
        if ((rc = rd_varbyte(s, &rd, 4, &e->new_raw, &e->new_raw_len)) ||
            (rc = rd_varbyte(s, &rd, 1, &e->old_raw, &e->old_raw_len)))
            return rc;
        break;
    case TDS_ENV_ROUTING:
        if ((rc = env_routing(s, &rd, e)))
            return rc;
        break;
    default:
        return tds__fail(s, TDS_E_PROTO, (size_t)(type_at - s->rx.buf));
    }
    if (rd.p != rd.end)
        return body_fail(s, &rd);

    /* Effects on the session (client side). */
    size_t at = (size_t)(new_at - s->rx.buf);
    switch (e->type) {
    case TDS_ENV_PACKETSIZE:
        if ((rc = env_packet_size(s, &e->new_text, at)))
            return rc;
        break;
    case TDS_ENV_DATABASE:
        copy_name(s->database, sizeof s->database, &e->new_text);
        break;
    case TDS_ENV_COLLATION:
        if (e->new_raw_len != 0 && e->new_raw_len != 5)
            return tds__fail(s, TDS_E_PROTO, at);
        if (e->new_raw_len == 5)
            tds_collation_parse(e->new_raw, &s->collation);
        break;
    case TDS_ENV_BEGIN_TRAN:
        if (e->new_raw_len != 8)
            return tds__fail(s, TDS_E_PROTO, at);
        s->transaction = tds_le64(e->new_raw);
        break;
    case TDS_ENV_COMMIT_TRAN: case TDS_ENV_ROLLBACK_TRAN: case TDS_ENV_TRAN_ENDED:
        s->transaction = 0;
        break;
    default:
        break;
    }
    return tds__tok_event(s, ev, TDS_EV_ENVCHANGE, (size_t)(rd.end - s->rx.buf));
}

/* -------------------------------------------------------- FEATUREEXTACK */

uint8_t tds_session_feature_ack(const tds_session *s, uint8_t feature_id)
{
    return s && feature_id < 32 ? s->feature_ack[feature_id] : 0;
}

/* FeatureId(1) [Len(4) Data]… 0xFF. No overall length: scanned from the
 * token start each time until the terminator is here (acks are few and
 * small). Only features the client asked for may be acknowledged. */
int tds__tok_featureextack(tds_session *s, tds_event *ev)
{
    tds_rx *rx = &s->rx;
    size_t pos = rx->pos + 1;
    size_t n = 0;
    for (;;) {
        if (pos >= rx->end)
            return tds__tok_short(s, pos);
        uint8_t id = rx->buf[pos];
        if (id == TDS_FEAT_TERMINATOR) {
            pos++;
            break;
        }
        if (id >= 32 || !(s->features_requested & (1u << id)))
            return tds__fail(s, TDS_E_FEATURE, pos);
        if (n == TDS_MAX_FEATURE_ACKS)
            return tds__fail(s, TDS_E_TOOBIG, pos);
        if (rx->end - pos < 5)
            return tds__tok_short(s, pos + 1);
        uint32_t len = tds_le32(rx->buf + pos + 1);
        if (len > MAX_FEATURE_DATA)
            return tds__fail(s, TDS_E_TOOBIG, pos + 1);
        if (rx->end - pos - 5 < len)
            return tds__tok_short(s, pos + 1);
        /* JSONSUPPORT / VECTORSUPPORT: one version byte, 0 (not
         * supported) up to the version asked for (SqlClient, mssql-rs). */
        if ((id == TDS_FEAT_JSONSUPPORT || id == TDS_FEAT_VECTORSUPPORT) &&
            (len != 1 || rx->buf[pos + 5] > (id == TDS_FEAT_JSONSUPPORT ? s->json_requested : s->vector_requested)))
            return tds__fail(s, TDS_E_PROTO, pos + 1);
        /* Recorded for tds_session_feature_ack (json/vector versions). */
        s->feature_ack[id] = len ? rx->buf[pos + 5] : 1;
        ev->u.features.acks[n].id = id;
        ev->u.features.acks[n].data = len ? rx->buf + pos + 5 : NULL;
        ev->u.features.acks[n].len = len;
        n++;
        pos += 5 + (size_t)len;
    }
    ev->u.features.n = n;
    return tds__tok_event(s, ev, TDS_EV_FEATUREEXTACK, pos);
}

/* ---------------------------------------------------------- RETURNVALUE */

/* ParamOrdinal(2) ParamName(B_VARCHAR) Status(1) UserType(4) Flags(2)
 * TYPE_INFO Value (MS-TDS 2.2.7.18). No overall length: the token is first
 * measured without allocating (PLP by its chunk headers), then decoded. */
int tds__tok_returnvalue(tds_session *s, tds_event *ev)
{
    tds_rx *rx = &s->rx;
    tds_rd rd;
    tds_column c;
    tds__tistr raw;
    tds__colx x;
    uint16_t ordinal, flags;
    uint32_t user_type;
    uint8_t status, nlen;
    const uint8_t *name;

    tds_rd_init(&rd, rx->buf + rx->pos + 1, rx->end - rx->pos - 1);
    rd.base = rx->buf;
    const uint8_t *at = rd.p;
    if (!tds_rd_u16(&rd, &ordinal) || !tds_rd_u8(&rd, &nlen))
        return tds__tok_short(s, tds_rd_off(&rd));
    at = rd.p - 1;
    if (!tds_rd_bytes(&rd, (size_t)nlen * 2, &name)) {
        rd.p = at;
        return tds__tok_short(s, tds_rd_off(&rd));
    }
    if (!tds_rd_u8(&rd, &status) || !tds_rd_u32(&rd, &user_type))
        return tds__tok_short(s, tds_rd_off(&rd));
    const uint8_t *flags_at = rd.p;
    if (!tds_rd_u16(&rd, &flags))
        return tds__tok_short(s, tds_rd_off(&rd));
    int rc = tds__typeinfo_scan(&rd, &c, &raw);
    if (rc == TDS_E_TRUNCATED)
        return tds__tok_short(s, tds_rd_off(&rd));
    if (rc)
        return tds__fail(s, rc, tds_rd_off(&rd));
    if (flags & TDS_COL_ENCRYPTED)
        return tds__fail(s, TDS_E_UNSUPPORTED, (size_t)(flags_at - rx->buf));
    tds__colx_init(&c, &x);
    size_t used;
    rc = tds__value_span(&x, rd.p, tds_rd_left(&rd), &used);
    if (rc == TDS_E_TRUNCATED) {
        size_t have = (size_t)(rd.p - (rx->buf + rx->pos));
        if (used > s->max_row || have > s->max_row - used)
            return tds__fail(s, TDS_E_TOOBIG, tds_rd_off(&rd));
        return tds__tok_short(s, tds_rd_off(&rd));
    }
    if (rc)
        return tds__fail(s, rc, tds_rd_off(&rd) + used);

    /* All here: materialise into the arena. */
    tds_column *col = tds_arena_alloc(&s->arena, sizeof *col);
    tds_value *val = tds_arena_alloc(&s->arena, sizeof *val);
    if (!col || !val)
        return tds__fail(s, TDS_E_NOMEM, rx->pos);
    *col = c;
    col->user_type = user_type;
    col->flags = flags;
    col->ordinal = ordinal;
    if (tds__typeinfo_strings(col, &raw, &s->arena) ||
        tds__str16(&s->arena, name, nlen, &col->name))
        return tds__fail(s, TDS_E_NOMEM, rx->pos);
    rc = tds__value_decode(&rd, col, val, &s->arena);
    if (rc)
        return tds__fail(s, rc, tds_rd_off(&rd));
    ev->u.retval.ordinal = ordinal;
    ev->u.retval.name = col->name;
    ev->u.retval.status = status;
    ev->u.retval.col = col;
    ev->u.retval.value = val;
    return tds__tok_event(s, ev, TDS_EV_RETURNVALUE, tds_rd_off(&rd));
}
