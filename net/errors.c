/*
 * errors.c — net/'s error codes and one-line messages.
 *
 * Owns: net_strerror, the net_error builders and net_wipe. Every message a
 * user sees is one line (newlines in server text become spaces) and is
 * built from values that are never secrets: callers pass host names,
 * numbers and server text, never a password or token.
 */
#include <stdio.h>
#include <string.h>

#include "net_int.h"
#include "tds_ascii.h"

const char *net_strerror(int code)
{
    switch (code) {
    case NET_OK: return "success";
    case NET_E_NOMEM: return "out of memory";
    case NET_E_ARG: return "invalid argument or option";
    case NET_E_STATE: return "operation not allowed in the connection's state";
    case NET_E_RESOLVE: return "host name could not be resolved";
    case NET_E_CONNECT: return "could not connect";
    case NET_E_TIMEOUT: return "timed out";
    case NET_E_BROWSER: return "SQL Browser lookup failed";
    case NET_E_TLS_UNTRUSTED: return "server certificate not trusted";
    case NET_E_TLS_HOSTNAME: return "server certificate does not match the host name";
    case NET_E_TLS_EXPIRED: return "server certificate expired or not yet valid";
    case NET_E_TLS: return "TLS failure";
    case NET_E_ENCRYPT_UNSUPPORTED: return "server cannot encrypt but encryption is mandatory";
    case NET_E_ENCRYPT_REQUIRED: return "server requires encryption but it was disabled";
    case NET_E_STRICT_UNSUPPORTED: return "server does not support TDS 8.0 strict encryption";
    case NET_E_LOGIN: return "login failed";
    case NET_E_ROUTING: return "invalid routing redirect";
    case NET_E_CLOSED: return "connection closed by the server";
    case NET_E_PROTO: return "protocol error";
    case NET_E_SERVER: return "server error";
    case NET_E_CANCELLED: return "cancelled";
    case NET_E_IO: return "network I/O error";
    default: return "unknown error";
    }
}

int net__fail(net_error *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    memset(e, 0, sizeof *e);
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    tds_ascii_one_line(e->message);
    return code;
}

void net__server_error(net_error *e, int code, const tds_server_msg *m)
{
    memset(e, 0, sizeof *e);
    e->code = code;
    e->server_number = m->number;
    e->server_state = m->state;
    e->server_severity = m->severity;
    /* Verbatim, as SQL Server wrote it, with its number for searching. */
    snprintf(e->message, sizeof e->message, "%.*s (server error %d, state %u, severity %u)",
             (int)(m->message.len < 400 ? m->message.len : 400),
             m->message.ptr ? m->message.ptr : "", (int)m->number, (unsigned)m->state,
             (unsigned)m->severity);
    tds_ascii_one_line(e->message);
}

void net__error_clear(net_error *e)
{
    memset(e, 0, sizeof *e);
}

void net_wipe(void *p, size_t n)
{
    if (!p || !n)
        return;
    /* A volatile function pointer keeps the compiler from proving the
     * memset dead before a free. */
    static void *(*volatile do_memset)(void *, int, size_t) = memset;
    do_memset(p, 0, n);
}
