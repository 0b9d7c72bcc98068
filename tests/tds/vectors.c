/*
 * vectors.c — see vectors.h. The transcript is text so that a failing
 * comparison shows exactly which event differs.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vectors.h"

uint8_t *tv_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    uint8_t *out = malloc(n / 2 + 1);
    size_t o = 0;
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)hex[i];
        int v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else continue;
        if (hi < 0) hi = v;
        else { out[o++] = (uint8_t)(hi << 4 | v); hi = -1; }
    }
    *len = o;
    return out;
}

uint8_t *tv_packetize(uint8_t type, const uint8_t *payload, size_t len, size_t pkt, size_t *out_len)
{
    size_t per = pkt - 8;
    size_t npk = len ? (len + per - 1) / per : 1;
    uint8_t *out = malloc(len + npk * 8);
    size_t o = 0, off = 0;
    for (size_t i = 0; i < npk; i++) {
        size_t n = len - off < per ? len - off : per;
        out[o] = type;
        out[o + 1] = (i == npk - 1) ? 1 : 0;
        out[o + 2] = (uint8_t)((n + 8) >> 8);
        out[o + 3] = (uint8_t)(n + 8);
        out[o + 4] = out[o + 5] = 0;
        out[o + 6] = (uint8_t)(i + 1);
        out[o + 7] = 0;
        memcpy(out + o + 8, payload + off, n);
        o += 8 + n;
        off += n;
    }
    *out_len = o;
    return out;
}

static void app(char **out, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *out = realloc(*out, *len + (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(*out + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *len += (size_t)n;
}

static void app_value(char **out, size_t *len, const tds_column *c, const tds_value *v)
{
    if (v->flags & TDS_VF_NULL) {
        app(out, len, "NULL");
        return;
    }
    if (v->flags & TDS_VF_STREAMED) {
        app(out, len, "<streamed %u>", (unsigned)v->len);
        return;
    }
    size_t need = 0;
    char small[256];
    int rc = tds_value_text(c, v, small, sizeof small, &need);
    if (rc == TDS_OK) {
        app(out, len, "%s", small);
    } else if (rc == TDS_E_SPACE) {
        char *big = malloc(need + 1);
        rc = tds_value_text(c, v, big, need + 1, &need);
        app(out, len, "%s", rc == TDS_OK ? big : tds_strerror(rc));
        free(big);
    } else {
        app(out, len, "<%s>", tds_strerror(rc));
    }
}

void tv_event_line(char **out, size_t *len, const tds_event *ev)
{
    switch (ev->type) {
    case TDS_EV_MESSAGE:
        app(out, len, "MESSAGE type=%u status=%u len=%zu", ev->u.message.type,
            ev->u.message.status, ev->u.message.len);
        for (size_t i = 0; i < ev->u.message.len && i < 64; i++)
            app(out, len, "%s%02x", i ? "" : " ", ev->u.message.data[i]);
        break;
    case TDS_EV_COLMETADATA:
        app(out, len, "COLMETADATA n=%u", ev->u.colmeta.ncols);
        for (uint16_t i = 0; i < ev->u.colmeta.ncols; i++) {
            const tds_column *c = &ev->u.colmeta.cols[i];
            app(out, len, " [%s type=0x%02x kind=%u len=%u p=%u s=%u flags=0x%x cp=%u]",
                c->name.ptr ? c->name.ptr : "", c->type, c->kind, (unsigned)c->max_len,
                c->precision, c->scale, c->flags, c->collation.codepage);
        }
        break;
    case TDS_EV_ROW:
        app(out, len, "ROW");
        for (uint16_t i = 0; i < ev->u.row.ncols; i++) {
            app(out, len, i ? " | " : " ");
            app_value(out, len, &ev->u.row.cols[i], &ev->u.row.values[i]);
        }
        break;
    case TDS_EV_PLP_CHUNK:
        app(out, len, "PLP col=%u len=%zu", ev->u.plp.col, ev->u.plp.len);
        break;
    case TDS_EV_DONE:
        app(out, len, "DONE tok=0x%02x status=0x%x cmd=%u rows=%llu", ev->token,
            ev->u.done.status, ev->u.done.curcmd, (unsigned long long)ev->u.done.rowcount);
        break;
    case TDS_EV_RETURNSTATUS:
        app(out, len, "RETURNSTATUS %d", ev->u.return_status);
        break;
    case TDS_EV_RETURNVALUE:
        app(out, len, "RETURNVALUE %u %s status=%u ", ev->u.retval.ordinal,
            ev->u.retval.name.ptr ? ev->u.retval.name.ptr : "", ev->u.retval.status);
        app_value(out, len, ev->u.retval.col, ev->u.retval.value);
        break;
    case TDS_EV_ENVCHANGE:
        app(out, len, "ENVCHANGE type=%u new=%s old=%s rawlen=%zu/%zu port=%u server=%s",
            ev->u.env.type, ev->u.env.new_text.ptr ? ev->u.env.new_text.ptr : "",
            ev->u.env.old_text.ptr ? ev->u.env.old_text.ptr : "", ev->u.env.new_raw_len,
            ev->u.env.old_raw_len, ev->u.env.routing_port,
            ev->u.env.routing_server.ptr ? ev->u.env.routing_server.ptr : "");
        break;
    case TDS_EV_INFO:
    case TDS_EV_ERROR:
        app(out, len, "%s %d state=%u class=%u msg=%s server=%s proc=%s line=%d",
            ev->type == TDS_EV_INFO ? "INFO" : "SERVERERROR", ev->u.msg.number,
            ev->u.msg.state, ev->u.msg.severity, ev->u.msg.message.ptr ? ev->u.msg.message.ptr : "",
            ev->u.msg.server.ptr ? ev->u.msg.server.ptr : "",
            ev->u.msg.procedure.ptr ? ev->u.msg.procedure.ptr : "", ev->u.msg.line);
        break;
    case TDS_EV_LOGINACK:
        app(out, len, "LOGINACK if=%u tds=0x%08x prog=%s ver=%u.%u.%u", ev->u.loginack.interface,
            ev->u.loginack.tds_version, ev->u.loginack.prog_name.ptr ? ev->u.loginack.prog_name.ptr : "",
            ev->u.loginack.major, ev->u.loginack.minor, ev->u.loginack.build);
        break;
    case TDS_EV_FEATUREEXTACK:
        app(out, len, "FEATUREEXTACK n=%zu", ev->u.features.n);
        for (size_t i = 0; i < ev->u.features.n; i++)
            app(out, len, " %u:%u", ev->u.features.acks[i].id, (unsigned)ev->u.features.acks[i].len);
        break;
    case TDS_EV_ORDER:
        app(out, len, "ORDER");
        for (uint16_t i = 0; i < ev->u.order.n; i++)
            app(out, len, " %u", ev->u.order.cols[i]);
        break;
    case TDS_EV_COLINFO:
    case TDS_EV_TABNAME:
    case TDS_EV_FEDAUTHINFO:
        app(out, len, "%s len=%zu", ev->type == TDS_EV_COLINFO ? "COLINFO" :
            ev->type == TDS_EV_TABNAME ? "TABNAME" : "FEDAUTHINFO", ev->u.raw.len);
        break;
    case TDS_EV_MESSAGE_END:
        app(out, len, "END");
        break;
    default:
        app(out, len, "EVENT %d", ev->type);
        break;
    }
    app(out, len, "\n");
}

char *tv_transcript(const tds_session_opts *opts, bool expect_message,
                    const uint8_t *wire, size_t len, const size_t *cuts, size_t ncuts)
{
    tds_session *s = tds_session_new(opts);
    cr_assert_not_null(s);
    if (expect_message)
        tds_expect_message(s);
    char *out = calloc(1, 1);
    size_t olen = 0;
    size_t from = 0;
    int failed = 0;
    for (size_t k = 0; k <= ncuts && !failed; k++) {
        size_t to = k < ncuts ? cuts[k] : len;
        while (from < to && !failed) {
            ptrdiff_t took = tds_feed(s, wire + from, to - from);
            if (took < 0) {
                app(&out, &olen, "ERROR %s\n", tds_strerror((int)took));
                failed = 1;
                break;
            }
            from += (size_t)took;
            tds_event ev;
            int rc;
            while ((rc = tds_next(s, &ev)) == 1)
                tv_event_line(&out, &olen, &ev);
            if (rc < 0) {
                app(&out, &olen, "ERROR %s\n", tds_strerror(rc));
                failed = 1;
            }
            if (took == 0 && rc == 0) {
                app(&out, &olen, "STUCK\n");
                failed = 1;
            }
        }
    }
    tds_session_free(s);
    return out;
}

char *tv_three_ways(const tds_session_opts *opts, bool expect_message,
                    const uint8_t *wire, size_t len)
{
    char *whole = tv_transcript(opts, expect_message, wire, len, NULL, 0);
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    char *bytewise = tv_transcript(opts, expect_message, wire, len, cuts, len ? len - 1 : 0);
    cr_assert_str_eq(bytewise, whole, "byte-at-a-time transcript differs");
    free(bytewise);
    for (size_t k = 1; k < len; k++) {
        size_t cut = k;
        char *split = tv_transcript(opts, expect_message, wire, len, &cut, 1);
        cr_assert_str_eq(split, whole, "transcript split at %zu differs", k);
        free(split);
    }
    free(cuts);
    return whole;
}
