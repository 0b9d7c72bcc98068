/*
 * tds_int.h — engine internals shared between tds/ files. Not installed.
 *
 * Owns: byte-order helpers (memcpy, never casts), the bounds-checked reader
 * used by every whole-buffer parser, the growable byte buffer, the per-event
 * arena, and struct tds_session itself. Module-private state lives in the
 * module's own *_int.h (token_int.h for the token decoder).
 *
 * Receive buffer invariant (rx): payload bytes of consecutive packets are
 * stored back to back in rx.buf (packet headers are read into rx.hdr, never
 * into buf), so a token or row that spans packets is contiguous. The
 * decoder reads at rx.pos; bytes before rx.keep may be discarded when the
 * buffer is compacted, which happens only inside tds_recv_buf().
 */
#ifndef TDS_TDS_INT_H
#define TDS_TDS_INT_H

#include <string.h>

#include "tds.h"

/* ------------------------------------------------------------ byte order */

static inline uint16_t tds_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t tds_le32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static inline uint64_t tds_le64(const uint8_t *p) { return (uint64_t)tds_le32(p) | ((uint64_t)tds_le32(p + 4) << 32); }
static inline uint16_t tds_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t tds_be32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3]; }
static inline void tds_wle16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void tds_wle32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }
static inline void tds_wle64(uint8_t *p, uint64_t v) { tds_wle32(p, (uint32_t)v); tds_wle32(p + 4, (uint32_t)(v >> 32)); }
static inline void tds_wbe16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void tds_wbe32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

/* ------------------------------------------------ bounds-checked reader */

/* A cursor over a complete buffer. Every getter checks what remains and
 * returns false (leaving the cursor unchanged) when short. */
typedef struct tds_rd {
    const uint8_t *p;
    const uint8_t *end;
    const uint8_t *base; /* for error offsets */
} tds_rd;

static inline void tds_rd_init(tds_rd *r, const uint8_t *p, size_t n) { r->p = p; r->end = p + n; r->base = p; }
static inline size_t tds_rd_left(const tds_rd *r) { return (size_t)(r->end - r->p); }
static inline size_t tds_rd_off(const tds_rd *r) { return (size_t)(r->p - r->base); }
static inline bool tds_rd_u8(tds_rd *r, uint8_t *v) { if (r->end - r->p < 1) return false; *v = *r->p++; return true; }
static inline bool tds_rd_u16(tds_rd *r, uint16_t *v) { if (r->end - r->p < 2) return false; *v = tds_le16(r->p); r->p += 2; return true; }
static inline bool tds_rd_u32(tds_rd *r, uint32_t *v) { if (r->end - r->p < 4) return false; *v = tds_le32(r->p); r->p += 4; return true; }
static inline bool tds_rd_u64(tds_rd *r, uint64_t *v) { if (r->end - r->p < 8) return false; *v = tds_le64(r->p); r->p += 8; return true; }
static inline bool tds_rd_bytes(tds_rd *r, size_t n, const uint8_t **out) { if ((size_t)(r->end - r->p) < n) return false; *out = r->p; r->p += n; return true; }
static inline bool tds_rd_skip(tds_rd *r, size_t n) { if ((size_t)(r->end - r->p) < n) return false; r->p += n; return true; }

/* ------------------------------------------------------------ allocation */

void *tds__malloc(const tds_alloc *a, size_t n);
void *tds__realloc(const tds_alloc *a, void *p, size_t n);
void tds__free(const tds_alloc *a, void *p);
extern const tds_alloc tds__default_alloc;
/* Zeroes secrets (passwords, tokens) in a way the compiler cannot drop as
 * a dead store. */
void tds__wipe(void *p, size_t n);

/* ------------------------------------------------------- growable buffer */

typedef struct tds_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    const tds_alloc *alloc;
} tds_buf;

/* Ensure room for n more bytes. Returns TDS_OK or TDS_E_NOMEM. */
int tds_buf_reserve(tds_buf *b, size_t n);
int tds_buf_append(tds_buf *b, const void *p, size_t n);
void tds_buf_free(tds_buf *b);

/* ----------------------------------------------------------------- arena */

/* A bump allocator reset per event/row: assembled values, UTF-8 names and
 * messages. Blocks are kept across resets (no malloc in the steady state). */
typedef struct tds_arena_block tds_arena_block;
typedef struct tds_arena {
    tds_arena_block *head;   /* current block */
    tds_arena_block *blocks; /* all blocks, for free */
    const tds_alloc *alloc;
    size_t limit;            /* total bytes allowed (0 = unlimited) */
    size_t used_total;
} tds_arena;

void tds_arena_init(tds_arena *a, const tds_alloc *alloc, size_t limit);
/* Returns n bytes aligned to 8, or NULL (out of memory or over limit). */
void *tds_arena_alloc(tds_arena *a, size_t n);
/* Grows the most recent allocation p (of old_n bytes) to new_n, moving it
 * if needed. Returns the new pointer or NULL. */
void *tds_arena_grow(tds_arena *a, void *p, size_t old_n, size_t new_n);
void tds_arena_reset(tds_arena *a);
void tds_arena_free(tds_arena *a);

/* Decodes one UTF-8 scalar at *pp (p < end; strict: no overlongs, no
 * surrogates, nothing above U+10FFFF) and advances *pp. Returns the code
 * point, or -1 (cursor unchanged) when invalid. */
int32_t tds__utf8_next(const uint8_t **pp, const uint8_t *end);

/* UTF-16LE (nchars code units) to a NUL-terminated UTF-8 tds_str in the
 * arena. Returns TDS_OK, TDS_E_NOMEM or TDS_E_ENCODING. */
int tds__arena_utf16(tds_arena *a, const uint8_t *p, size_t nchars, tds_str *out);

/* --------------------------------------------------------------- session */

#include "token_int.h" /* struct tds_tokdec: the token decoder's state */

typedef struct tds_rx {
    uint8_t *buf;
    size_t cap;
    size_t keep;        /* bytes before keep may be dropped at compaction */
    size_t pos;         /* decoder read position */
    size_t end;         /* payload bytes present */
    uint64_t base_off;  /* stream offset of buf[0] (for error offsets) */
    uint8_t hdr[TDS_HEADER_SIZE];
    size_t hdr_have;    /* header bytes read so far */
    size_t payload_left;/* payload bytes of the current packet still to come */
    bool in_payload;
    uint8_t msg_type;   /* type of the message being received */
    uint8_t msg_status; /* status of its last packet */
    bool msg_active;    /* a message has started (first header read) */
    bool msg_complete;  /* its EOM packet's payload is all in buf */
    size_t msg_start;   /* buf offset where the current message's payload begins */
    bool whole_next;    /* deliver the next message whole (tds_expect_message) */
    bool whole_cur;     /* the current message is being delivered whole */
    bool end_pending;   /* MESSAGE_END still to report */
} tds_rx;

typedef struct tds_tx {
    tds_buf out;        /* framed packets; [sent, out.len) still to write */
    size_t sent;
    bool in_msg;
    size_t pkt_start;   /* offset of the current packet's header in out */
    uint8_t type;
    uint8_t status_bits;
    uint8_t pkt_id;
    bool secret;        /* out holds a LOGIN7: zero bytes as they are acked */
} tds_tx;

/* Converters of the double-byte code pages (codepage.c): [page][0] page →
 * UTF-8, [page][1] UTF-8 → page, each an iconv_t opened on first use (NULL
 * until then). Owned by a session (or a caller's tds_conv_new); one thread
 * at a time. */
#define TDS__DBCS_N 4
struct tds_conv {
    void *cd[TDS__DBCS_N][2];
};
/* Closes what cv opened; cv stays usable. */
void tds__conv_close(tds_conv *cv);

struct tds_session {
    tds_role role;
    const tds_alloc *alloc;
    tds_alloc alloc_copy;
    int error;
    uint64_t error_offset;
    uint32_t packet_size;
    size_t max_message;
    size_t max_row;
    bool stream_plp;
    tds_rx rx;
    tds_tx tx;
    tds_arena arena;        /* per-event scratch, reset by tds_next */
    tds_tokdec dec;         /* token decoder state (token_int.h) */
    /* environment the client tracks */
    uint64_t transaction;
    char database[260];
    tds_collation collation;
    uint32_t features_requested; /* bit (1u << feature id) sent in LOGIN7 */
    uint8_t feature_ack[32];     /* FEATUREEXTACK: first data byte (1 when none) per id */
    uint8_t json_requested;      /* JSONSUPPORT / VECTORSUPPORT versions the LOGIN7 */
    uint8_t vector_requested;    /* asked for: an ack above them is a protocol error */
    tds_conv conv;          /* text conversions of this session's put paths */
};

/* Sets the sticky error (first one wins) with the received-stream offset of
 * rx position pos. Returns err for `return tds__fail(...)`. */
int tds__fail(tds_session *s, int err, size_t pos);

/* Token decoder entry (token.c): the next event from rx.buf[pos, end).
 * Returns 1 (event), 0 (needs more bytes: rx must not be at message end),
 * or a negative error. Sets rx.keep to the start of what it still needs. */
int tds__tokens_next(tds_session *s, tds_event *ev);
/* Resets decoder state for a fresh message (keeps column metadata). */
void tds__tokens_message_start(tds_session *s);
/* True when the decoder is between tokens (nothing partly decoded), so a
 * message may end here. */
bool tds__tokens_at_boundary(const tds_session *s);
/* Frees the decoder's allocations (column arrays, metadata strings). */
void tds__tokens_free(tds_session *s);

/* ------------------------------------------- shared TYPE_INFO and values */

/* Parses TYPE_INFO (type id, length, precision/scale, collation, UDT/XML
 * info, text table names are NOT part of it) from a complete buffer into c;
 * names/strings are placed in arena. Returns TDS_OK, TDS_E_TRUNCATED (the
 * buffer ends inside it), TDS_E_PROTO or TDS_E_UNSUPPORTED. */
int tds__typeinfo_decode(tds_rd *rd, tds_column *c, tds_arena *arena);
/* Writes c's TYPE_INFO into the current message. */
int tds__typeinfo_put(tds_session *s, const tds_column *c);
/* Writes v with the length prefix c's type needs (PLP: known length, one
 * or more chunks, terminator). TDS_VF_UTF8 values are transcoded. */
int tds__value_put(tds_session *s, const tds_column *c, const tds_value *v);
/* Decodes one value (prefix plus bytes) from a complete buffer. PLP chunks
 * are assembled into the arena. Returns TDS_OK, TDS_E_TRUNCATED, TDS_E_PROTO,
 * TDS_E_NOMEM. */
int tds__value_decode(tds_rd *rd, const tds_column *c, tds_value *v, tds_arena *arena);

/* Bytes the UTF-8 text takes in c's wire encoding (UTF-16LE for
 * nchar/xml/ntext, the code page for char types), or TDS_E_ENCODING. */
int tds__encode_text_len(tds_conv *cv, const tds_column *c, const char *utf8, size_t len);

#endif /* TDS_TDS_INT_H */
