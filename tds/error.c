/*
 * error.c — text for tds_err values and the session's sticky error.
 */
#include "tds_int.h"

const char *tds_strerror(int err)
{
    switch (err) {
    case TDS_OK: return "success";
    case TDS_E_NOMEM: return "out of memory";
    case TDS_E_PROTO: return "protocol error: malformed data from the peer";
    case TDS_E_UNSUPPORTED: return "unsupported protocol feature";
    case TDS_E_ARG: return "invalid argument";
    case TDS_E_STATE: return "operation not allowed in the session's current state";
    case TDS_E_SPACE: return "output buffer too small";
    case TDS_E_TRUNCATED: return "input ended inside a message or value";
    case TDS_E_TOOBIG: return "length exceeds the engine's limit";
    case TDS_E_TYPE: return "value accessor does not fit the column type";
    case TDS_E_RANGE: return "value out of range";
    case TDS_E_ENCODING: return "text is not valid in its encoding";
    case TDS_E_FEATURE: return "server acknowledged a feature that was not requested";
    default: return "unknown error";
    }
}

int tds__fail(tds_session *s, int err, size_t pos)
{
    if (s->error == 0) {
        s->error = err;
        s->error_offset = s->rx.base_off + pos;
    }
    return s->error;
}

int tds_session_error(const tds_session *s) { return s->error; }

uint64_t tds_error_offset(const tds_session *s) { return s->error_offset; }
