/*
 * encode_int.h — helpers shared by the encoders (typeinfo_put.c,
 * token_encode.c, rpc.c). Not installed; owned by the encoder files.
 *
 * Fast path: tds__put_reserve() lends room inside the packet being filled
 * when n bytes fit before the packet is full, so a short value or a whole
 * narrow row is written with one bounds check and plain stores. It relies on
 * packet_tx.c's invariant (tds_int.h, tds_tx): the open packet is
 * [pkt_start, out.len) and is sealed lazily by tds_put_bytes() when it is
 * full, so appending to out.data while out.len - pkt_start stays within the
 * packet size is exactly what tds_put_bytes() itself would do. Anything that
 * would cross a packet boundary goes through tds_put_bytes().
 */
#ifndef TDS_ENCODE_INT_H
#define TDS_ENCODE_INT_H

#include "tds_int.h"

/* Room for n (> 0) contiguous bytes in the current packet, or NULL when they
 * would cross into the next packet (or no message is open, or out of
 * memory): then use tds_put_bytes(), which reports the error. Commit with
 * tds__put_commit(s, n) after writing. */
static inline uint8_t *tds__put_reserve(tds_session *s, size_t n)
{
    tds_tx *tx = &s->tx;
    if (!tx->in_msg || n == 0 || n > s->packet_size - (tx->out.len - tx->pkt_start))
        return NULL;
    if (tx->out.cap - tx->out.len < n && tds_buf_reserve(&tx->out, n) != TDS_OK)
        return NULL;
    return tx->out.data + tx->out.len;
}

static inline void tds__put_commit(tds_session *s, size_t n) { s->tx.out.len += n; }

/* Batch encoders (row_plan.c) write several rows in place past out.len,
 * possibly beyond the open packet's end, then commit [out.len, end) with
 * this: every packet that filled is sealed and the bytes after it moved
 * behind a fresh header (the last full packet is left open, sealed lazily as
 * usual). The caller must have reserved TDS_HEADER_SIZE bytes of capacity
 * past end for every packet boundary inside [out.len, end). */
void tds__tx_commit_split(tds_session *s, size_t end);

/* tds_put_bytes() with the fast path for bytes that fit the open packet. */
static inline int tds__put(tds_session *s, const void *p, size_t n)
{
    uint8_t *d = tds__put_reserve(s, n);
    if (d) {
        memcpy(d, p, n);
        tds__put_commit(s, n);
        return TDS_OK;
    }
    return tds_put_bytes(s, p, n);
}

static inline int tds__put_u8(tds_session *s, uint8_t v) { return tds__put(s, &v, 1); }
static inline int tds__put_u16(tds_session *s, uint16_t v) { uint8_t b[2]; tds_wle16(b, v); return tds__put(s, b, 2); }
static inline int tds__put_u32(tds_session *s, uint32_t v) { uint8_t b[4]; tds_wle32(b, v); return tds__put(s, b, 4); }
static inline int tds__put_u64(tds_session *s, uint64_t v) { uint8_t b[8]; tds_wle64(b, v); return tds__put(s, b, 8); }

/* How a type's values are framed (MS-TDS 2.2.5.2 / TYPE_VARBYTE). */
enum tds__vclass {
    TDS__VC_FIXED = 0,  /* no prefix, *fixed bytes; NULL only via NBCROW */
    TDS__VC_BYTE,       /* BYTELEN: 1-byte length, 0 = NULL */
    TDS__VC_USHORT,     /* USHORTCHARBINLEN: 2-byte length, 0xFFFF = NULL */
    TDS__VC_PLP,        /* 8-byte total, chunks, 4-byte 0 terminator */
    TDS__VC_TEXT,       /* text/ntext/image: textptr, timestamp, LONGLEN */
    TDS__VC_LONG,       /* sql_variant: 4-byte length, 0 = NULL */
};

/* The framing class of c's values, with the size of fixed types in *fixed.
 * Returns a tds__vclass or TDS_E_TYPE for a type id we cannot frame. */
int tds__value_class(const tds_column *c, uint32_t *fixed);

/* What every encoder checks before framing a value: its class (returned,
 * or a negative tds_err), the fixed size of fixed types, whether it is
 * NULL, and its wire length (TDS_VF_UTF8 text measured in c's encoding).
 * Errors: TDS_E_TYPE (UTF-8 text for a non-text column, or a type id we
 * cannot frame), TDS_E_ENCODING, TDS_E_ARG (bytes without a pointer). */
int tds__value_measure(tds_conv *cv, const tds_column *c, const tds_value *v, uint32_t *fixed,
                       bool *null, uint32_t *len);

/* Options for tds__value_put_ex. */
typedef struct tds__vput {
    uint32_t plp_chunk;   /* largest PLP chunk (8000 in rows; RPC: one chunk) */
    bool text_longlen;    /* text/ntext/image as LONGLEN without text pointer
                             (RPC parameters), 0xFFFFFFFF = NULL */
} tds__vput;

/* tds__value_put with explicit options. Returns TDS_OK, TDS_E_ARG (a NULL
 * where the type cannot carry one, a length impossible for the type),
 * TDS_E_RANGE (longer than the column's declared length), TDS_E_TYPE,
 * TDS_E_ENCODING (TDS_VF_UTF8 text not valid or not mappable), or a
 * tds_put_bytes error. On error a prefix may already have been written:
 * the caller abandons the message (tds_msg_abort). */
int tds__value_put_ex(tds_session *s, const tds_column *c, const tds_value *v,
                      const tds__vput *o);

/* UTF-8 text as UTF-16LE, transcoded once in pieces through a stack
 * buffer, preceded by its length in UTF-16 code units in lenbytes bytes
 * (0: no prefix, 1: B_VARCHAR, 2: US_VARCHAR). Returns TDS_OK,
 * TDS_E_ENCODING, TDS_E_RANGE (too long for the prefix) or a put error;
 * nothing is written on TDS_E_ENCODING/TDS_E_RANGE. */
int tds__put_utf16(tds_session *s, const char *utf8, size_t len, int lenbytes);

/* Length of a NUL-terminated UTF-8 string, 0 for NULL. */
static inline size_t tds__strlen0(const char *p) { return p ? strlen(p) : 0; }

#endif /* TDS_ENCODE_INT_H */
