/*
 * tds.h — the public API of tdspipe's sans-I/O TDS 7.4 engine.
 *
 * The engine never touches a socket, a clock or a TLS library. The caller
 * moves bytes:
 *
 *   receive:  tds_recv_buf() lends a place to read into and says how many
 *             bytes it wants (exactly the 8-byte packet header, then exactly
 *             the payload); tds_recv_ack() says how many arrived. tds_feed()
 *             is the copy-in convenience for tests and fuzz targets.
 *   decode:   tds_next() hands back one event at a time (pull model: a slow
 *             consumer simply stops pulling and stops reading the socket).
 *   send:     tds_send_*() / tds_put_*() encode whole messages, split into
 *             packets at the negotiated size, into the session's out queue;
 *             tds_send_buf() / tds_send_ack() drain it.
 *
 * Lifetimes: every pointer inside an event (value views, names, messages)
 * points into the session's receive buffer or its per-event arena, and dies
 * at the next tds_next(), tds_recv_buf() or tds_feed() call — like libpq's
 * rowBuf. Column metadata (tds_column) lives until the next COLMETADATA.
 *
 * Errors: functions return a negative tds_err on failure (or NULL where they
 * return a pointer). The session keeps the first error (sticky): afterwards
 * every call returns it again. tds_strerror() names it; tds_error_offset()
 * gives the byte offset in the received stream where a protocol error was
 * found.
 */
#ifndef TDS_TDS_H
#define TDS_TDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Everything declared here is the public API: exported from the shared
 * library (which builds with hidden visibility by default). */
#pragma GCC visibility push(default)

/* ---------------------------------------------------------------- errors */

typedef enum tds_err {
    TDS_OK = 0,
    TDS_E_NOMEM = -1,      /* an allocation failed */
    TDS_E_PROTO = -2,      /* malformed bytes from the peer (see offset) */
    TDS_E_UNSUPPORTED = -3,/* valid TDS we do not speak (SSPI, ALTROW…) */
    TDS_E_ARG = -4,        /* bad argument from the caller */
    TDS_E_STATE = -5,      /* call not allowed in the session's state */
    TDS_E_SPACE = -6,      /* caller's output buffer too small */
    TDS_E_TRUNCATED = -7,  /* input ended inside a message or value */
    TDS_E_TOOBIG = -8,     /* a length beyond the engine's sane maxima */
    TDS_E_TYPE = -9,       /* value accessor used on the wrong type */
    TDS_E_RANGE = -10,     /* value out of range for the requested form */
    TDS_E_ENCODING = -11,  /* text not valid in its declared encoding */
    TDS_E_FEATURE = -12,   /* FEATUREEXTACK for a feature not requested */
} tds_err;

/* Returns a static, human-readable one-line text for any tds_err value
 * (and for unknown values "unknown error"). Never NULL. */
const char *tds_strerror(int err);

/* ------------------------------------------------------- wire constants */

enum tds_packet_type {
    TDS_PKT_SQL_BATCH = 0x01,
    TDS_PKT_PRE_TDS7_LOGIN = 0x02,
    TDS_PKT_RPC = 0x03,
    TDS_PKT_REPLY = 0x04, /* tabular result, also the PRELOGIN response */
    TDS_PKT_ATTENTION = 0x06,
    TDS_PKT_BULK = 0x07,
    TDS_PKT_FEDAUTH_TOKEN = 0x08,
    TDS_PKT_TRANSACTION = 0x0E,
    TDS_PKT_LOGIN7 = 0x10,
    TDS_PKT_SSPI = 0x11,
    TDS_PKT_PRELOGIN = 0x12,
};

enum tds_packet_status {
    TDS_ST_EOM = 0x01,
    TDS_ST_IGNORE = 0x02,
    TDS_ST_RESETCONNECTION = 0x08,
    TDS_ST_RESETCONNECTIONSKIPTRAN = 0x10,
};

#define TDS_HEADER_SIZE 8
#define TDS_PACKET_MIN 512
#define TDS_PACKET_MAX 32767
#define TDS_PACKET_DEFAULT 4096

#define TDS_VERSION_74 0x74000004u

enum tds_token {
    TDS_TOK_OFFSET = 0x78,
    TDS_TOK_RETURNSTATUS = 0x79,
    TDS_TOK_COLMETADATA = 0x81,
    TDS_TOK_ALTMETADATA = 0x88,
    TDS_TOK_DATACLASSIFICATION = 0xA3,
    TDS_TOK_TABNAME = 0xA4,
    TDS_TOK_COLINFO = 0xA5,
    TDS_TOK_ORDER = 0xA9,
    TDS_TOK_ERROR = 0xAA,
    TDS_TOK_INFO = 0xAB,
    TDS_TOK_RETURNVALUE = 0xAC,
    TDS_TOK_LOGINACK = 0xAD,
    TDS_TOK_FEATUREEXTACK = 0xAE,
    TDS_TOK_ROW = 0xD1,
    TDS_TOK_NBCROW = 0xD2,
    TDS_TOK_ALTROW = 0xD3,
    TDS_TOK_ENVCHANGE = 0xE3,
    TDS_TOK_SESSIONSTATE = 0xE4,
    TDS_TOK_SSPI = 0xED,
    TDS_TOK_FEDAUTHINFO = 0xEE,
    TDS_TOK_DONE = 0xFD,
    TDS_TOK_DONEPROC = 0xFE,
    TDS_TOK_DONEINPROC = 0xFF,
};

enum tds_done_status {
    TDS_DONE_FINAL = 0x0000,
    TDS_DONE_MORE = 0x0001,
    TDS_DONE_ERROR = 0x0002,
    TDS_DONE_INXACT = 0x0004,
    TDS_DONE_COUNT = 0x0010,
    TDS_DONE_ATTN = 0x0020,
    TDS_DONE_SRVERROR = 0x0100,
};

/* Wire data type identifiers (MS-TDS 2.2.5.4). */
enum tds_type_id {
    TDS_T_NULL = 0x1F,
    TDS_T_INT1 = 0x30,
    TDS_T_BIT = 0x32,
    TDS_T_INT2 = 0x34,
    TDS_T_INT4 = 0x38,
    TDS_T_DATETIM4 = 0x3A,
    TDS_T_FLT4 = 0x3B,
    TDS_T_MONEY = 0x3C,
    TDS_T_DATETIME = 0x3D,
    TDS_T_FLT8 = 0x3E,
    TDS_T_MONEY4 = 0x7A,
    TDS_T_INT8 = 0x7F,
    TDS_T_GUID = 0x24,
    TDS_T_INTN = 0x26,
    TDS_T_DECIMAL = 0x37,
    TDS_T_NUMERIC = 0x3F,
    TDS_T_BITN = 0x68,
    TDS_T_DECIMALN = 0x6A,
    TDS_T_NUMERICN = 0x6C,
    TDS_T_FLTN = 0x6D,
    TDS_T_MONEYN = 0x6E,
    TDS_T_DATETIMN = 0x6F,
    TDS_T_DATEN = 0x28,
    TDS_T_TIMEN = 0x29,
    TDS_T_DATETIME2N = 0x2A,
    TDS_T_DATETIMEOFFSETN = 0x2B,
    TDS_T_CHAR = 0x2F,
    TDS_T_VARCHAR = 0x27,
    TDS_T_BINARY = 0x2D,
    TDS_T_VARBINARY = 0x25,
    TDS_T_BIGVARBIN = 0xA5,
    TDS_T_BIGVARCHR = 0xA7,
    TDS_T_BIGBINARY = 0xAD,
    TDS_T_BIGCHAR = 0xAF,
    TDS_T_NVARCHAR = 0xE7,
    TDS_T_NCHAR = 0xEF,
    TDS_T_XML = 0xF1,
    TDS_T_UDT = 0xF0,
    TDS_T_TEXT = 0x23,
    TDS_T_IMAGE = 0x22,
    TDS_T_NTEXT = 0x63,
    TDS_T_VARIANT = 0x62,
    /* SQL Server 2025 (issue 18): sent natively only to a client whose
     * LOGIN7 asked for JSONSUPPORT / VECTORSUPPORT and got them acked. */
    TDS_T_JSON = 0xF4,
    TDS_T_VECTOR = 0xF5,
};

/* The logical type of a column, independent of how the wire spells it
 * (INT4 and INTN(4) are both TDS_K_INT). Sinks switch on this. */
typedef enum tds_kind {
    TDS_K_UNKNOWN = 0,
    TDS_K_TINYINT,       /* unsigned 8-bit */
    TDS_K_SMALLINT,
    TDS_K_INT,
    TDS_K_BIGINT,
    TDS_K_BIT,
    TDS_K_REAL,
    TDS_K_FLOAT,
    TDS_K_SMALLMONEY,
    TDS_K_MONEY,
    TDS_K_DECIMAL,       /* decimal and numeric */
    TDS_K_SMALLDATETIME,
    TDS_K_DATETIME,
    TDS_K_DATE,
    TDS_K_TIME,
    TDS_K_DATETIME2,
    TDS_K_DATETIMEOFFSET,
    TDS_K_GUID,
    TDS_K_CHAR,          /* char/varchar/text, in the column's code page */
    TDS_K_NCHAR,         /* nchar/nvarchar/ntext, UTF-16LE on the wire */
    TDS_K_BINARY,        /* binary/varbinary/image */
    TDS_K_XML,           /* UTF-16LE on the wire */
    TDS_K_VARIANT,       /* sql_variant: see tds_value_variant() */
    TDS_K_UDT,           /* bytes plus the type's name */
    TDS_K_JSON,          /* json (0xF4): PLP, UTF-8 text */
    TDS_K_VECTOR,        /* vector(n) (0xF5): header + n elements, see
                            tds_column.vector_dims / vector_elem */
} tds_kind;

/* Collation (MS-TDS 2.2.5.1.2): 20-bit LCID, flag bits, 4-bit version,
 * SortId. codepage is derived: SortId first, then LCID; 65001 for UTF-8. */
typedef struct tds_collation {
    uint8_t raw[5];
    uint32_t lcid;      /* low 20 bits */
    uint8_t flags;      /* ignore-case etc., plus bit UTF8 (0x04 of byte 4) */
    uint8_t version;
    uint8_t sort_id;
    uint16_t codepage;  /* 0 when unknown */
} tds_collation;

/* Column flags (MS-TDS COLMETADATA Flags, host order). */
enum tds_col_flags {
    TDS_COL_NULLABLE = 0x0001,
    TDS_COL_CASESEN = 0x0002,
    TDS_COL_UPDATEABLE = 0x000C,
    TDS_COL_IDENTITY = 0x0010,
    TDS_COL_COMPUTED = 0x0020,
    TDS_COL_FIXEDLENCLRTYPE = 0x0100,
    TDS_COL_SPARSE = 0x0400,
    TDS_COL_ENCRYPTED = 0x0800,
    TDS_COL_HIDDEN = 0x2000,
    TDS_COL_KEY = 0x4000,
    TDS_COL_NULLUNKNOWN = 0x8000,
};

/* A length-counted UTF-8 string owned by the session (NUL-terminated too). */
typedef struct tds_str {
    const char *ptr;
    size_t len;
} tds_str;

/* TYPE_INFO plus the column's name and extras (MS-TDS 2.2.7.4). */
typedef struct tds_column {
    uint8_t type;         /* tds_type_id as on the wire */
    uint8_t kind;         /* tds_kind */
    uint8_t precision;    /* decimal precision */
    uint8_t scale;        /* decimal scale; time/datetime2/dto scale 0–7 */
    uint32_t max_len;     /* declared byte length; 0xFFFF for (max) types */
    bool is_plp;          /* value is sent as PLP chunks ((max), xml, big UDT) */
    uint16_t flags;       /* tds_col_flags */
    uint32_t user_type;
    tds_collation collation; /* char/nchar/text/ntext types only */
    tds_str name;         /* column name, UTF-8 */
    tds_str table;        /* text/ntext/image: the multi-part table name */
    tds_str udt_db, udt_schema, udt_type, udt_assembly; /* UDT_INFO */
    tds_str xml_db, xml_schema, xml_collection;         /* XML_INFO */
    uint16_t ordinal;     /* 0-based position in the result */
    uint16_t vector_dims; /* vector(n): n (TDS_K_VECTOR only) */
    uint8_t vector_elem;  /* vector element type (tds_vector_elem) */
} tds_column;

/* A value view. ptr/len are the value's bytes as on the wire, without the
 * length prefix (for PLP: the assembled chunks; for text/ntext/image: the
 * data after the text pointer). Interpret with tds_value_*(). */
typedef struct tds_value {
    const uint8_t *ptr;
    uint32_t len;
    uint8_t flags;        /* tds_value_flags */
} tds_value;

enum tds_value_flags {
    TDS_VF_NULL = 0x01,      /* SQL NULL; ptr is NULL and len 0 */
    TDS_VF_ASSEMBLED = 0x02, /* bytes were copied into the row arena */
    TDS_VF_STREAMED = 0x04,  /* PLP delivered as TDS_EV_PLP_CHUNK events;
                                len is the total streamed */
    TDS_VF_UTF8 = 0x08,      /* (encoders) ptr holds UTF-8 text to be
                                transcoded to the column's encoding */
};

/* ---------------------------------------------------- typed value forms */

/* Exact decimal: magnitude is a little-endian 128-bit unsigned integer,
 * value = (negative ? -1 : 1) * magnitude / 10^scale. */
typedef struct tds_decimal {
    uint8_t precision;
    uint8_t scale;
    bool negative;
    uint8_t magnitude[16];
} tds_decimal;

/* Every date/time type in one form. date: days since 0001-01-01 (0 for
 * time). time: 100 ns ticks since midnight (0 for date). offset_min: the
 * datetimeoffset's signed offset in minutes; days/ticks are then UTC, as on
 * the wire. scale: fractional digits the type carries (datetime: 3,
 * smalldatetime: 0, date: 0). */
typedef struct tds_datetime {
    int32_t days;
    uint64_t ticks;
    int16_t offset_min;
    uint8_t scale;
    uint8_t kind;         /* tds_kind of the source */
} tds_datetime;

/* Accessors: each returns TDS_OK, TDS_E_TYPE when the column's kind does
 * not fit, TDS_E_RANGE when the value does not fit the output, TDS_E_PROTO
 * when the bytes have an impossible length for the type. NULLs give
 * TDS_E_TYPE (check TDS_VF_NULL first). */
int tds_value_int(const tds_column *c, const tds_value *v, int64_t *out);
int tds_value_float(const tds_column *c, const tds_value *v, double *out);
/* money/smallmoney/decimal/numeric; money comes back with scale 4. */
int tds_value_decimal(const tds_column *c, const tds_value *v, tds_decimal *out);
int tds_value_datetime(const tds_column *c, const tds_value *v, tds_datetime *out);
/* GUID bytes in RFC 4122 order (the first three groups byte-swapped from
 * the wire's little-endian). */
int tds_value_guid(const tds_column *c, const tds_value *v, uint8_t out[16]);
/* sql_variant: the inner type as a column and the inner value as a view. */
int tds_value_variant(const tds_column *c, const tds_value *v,
                      tds_column *inner_col, tds_value *inner_val);

/* vector (0xF5, SQL Server 2025; docs/types.md): a value is an 8-byte
 * header — layout format 0xA9, layout version 0x01, dimension count
 * (uint16 LE), element type, 3 reserved bytes — then dims elements,
 * little-endian IEEE float32 or float16. Non-PLP, 2-byte length prefix
 * (0xFFFF = NULL), at most 8000 bytes: 1998 float32 or 3996 float16. */
enum tds_vector_elem {
    TDS_VEC_FLOAT32 = 0x00,
    TDS_VEC_FLOAT16 = 0x01,
};
#define TDS_VECTOR_HEADER 8
#define TDS_VECTOR_MAX_BYTES 8000
#define TDS_VECTOR_LAYOUT_FORMAT 0xA9
#define TDS_VECTOR_LAYOUT_VERSION 0x01
typedef struct tds_vector {
    uint16_t dims;        /* number of elements */
    uint8_t elem;         /* tds_vector_elem */
    uint8_t elem_size;    /* 4 or 2 bytes */
    const uint8_t *data;  /* dims * elem_size bytes, little-endian, in the view */
} tds_vector;
/* The vector in v (header checked against the column). TDS_E_TYPE for a
 * non-vector column or NULL, TDS_E_PROTO for a malformed header. */
int tds_value_vector(const tds_column *c, const tds_value *v, tds_vector *out);
/* Element i as a float (float16 widened exactly); i < vec->dims. */
float tds_vector_get(const tds_vector *vec, uint32_t i);
/* Bytes per element (4, 2) or 0 for an unknown element type. */
unsigned tds_vector_elem_size(uint8_t elem);
/* IEEE binary16 <-> float. tds_float_to_half rounds to nearest even;
 * values beyond ±65504 become infinities. */
float tds_half_to_float(uint16_t h);
uint16_t tds_float_to_half(float f);
/* Checks a vector value's bytes against its column (elem, dims). Returns
 * TDS_OK, or TDS_E_PROTO with *bad_off = offset of the offending byte in
 * p (0: format, 1: version, 2: dimension count or length, 4: element type). */
int tds_vector_check(const uint8_t *p, size_t len, uint8_t elem, uint16_t dims, size_t *bad_off);
/* Writes the value bytes (header + elements) of vals[0..n) for the vector
 * column c (n must equal c->vector_dims). Returns the byte count, or
 * TDS_E_SPACE / TDS_E_RANGE (n wrong, NaN or ±Inf, a float16 beyond ±65504:
 * SQL Server refuses them) / TDS_E_TYPE. */
int tds_encode_vector(const tds_column *c, const float *vals, uint32_t n, uint8_t *out, size_t cap);
/* Parses JSON array text ("[1.5, -2, 3e2]", whitespace allowed) into at
 * most cap floats; *n = count. TDS_E_ARG for anything else (null, NaN,
 * strings, nesting), TDS_E_SPACE for more than cap numbers. */
int tds_vector_parse(const char *s, size_t len, float *out, uint32_t cap, uint32_t *n);

/* Canonical text of any non-NULL value, UTF-8, NUL-terminated, as SQL
 * Server itself prints it (CONVERT(nvarchar, x, 121)-like):
 *   integers and bit as digits; float/real shortest round-trip; money with
 *   4 decimals; decimal exact with `scale` decimals; datetime
 *   "YYYY-MM-DD hh:mm:ss.fff"; smalldatetime without fraction; time(n),
 *   datetime2(n) with n fractional digits; datetimeoffset local time plus
 *   " +hh:mm"; GUID upper-case 8-4-4-4-12; char/nchar/xml as UTF-8; binary
 *   and UDT as "0x" and upper-case hex; json as its UTF-8 text; vector
 *   as a JSON array of its elements, each as real prints it
 *   ("[1.5,-2,3.25]"; NaN and infinities, which SQL Server refuses, as null).
 * Writes at most cap bytes; *out_len gets the length without the NUL.
 * Returns TDS_E_SPACE (with *out_len set to the needed length) when cap is
 * too small, TDS_E_ENCODING for text invalid in its code page. */
int tds_value_text(const tds_column *c, const tds_value *v, char *out,
                   size_t cap, size_t *out_len);

/* Text types to UTF-8 only (char types through the collation's code page,
 * nchar/xml from UTF-16LE). Same return contract as tds_value_text. */
int tds_value_utf8(const tds_column *c, const tds_value *v, char *out,
                   size_t cap, size_t *out_len);

/* char text in the double-byte code pages (932, 936, 949, 950) goes
 * through iconv converters. A tds_conv keeps them open between calls: give
 * one to the _cv functions (each session keeps its own for what it
 * encodes). Without one (the plain functions, or cv NULL) a call opens a
 * private converter: the same result, about 0.5 µs more per non-ASCII
 * double-byte value. Nothing is cached process-wide. A tds_conv is used by
 * one thread at a time. tds_conv_new returns NULL when out of memory. */
typedef struct tds_conv tds_conv;
tds_conv *tds_conv_new(void);
void tds_conv_free(tds_conv *cv);
int tds_value_text_cv(tds_conv *cv, const tds_column *c, const tds_value *v, char *out,
                      size_t cap, size_t *out_len);
int tds_value_utf8_cv(tds_conv *cv, const tds_column *c, const tds_value *v, char *out,
                      size_t cap, size_t *out_len);
int tds_encode_text_cv(tds_conv *cv, const tds_column *c, const char *utf8, size_t len,
                       uint8_t *out, size_t cap);

/* Value encoders (the test server and RPC parameters build views with
 * these). Each writes the wire bytes of the value, without length prefix,
 * into out (cap bytes) for the column's type and returns the byte count,
 * or TDS_E_SPACE/TDS_E_RANGE/TDS_E_TYPE. */
int tds_encode_int(const tds_column *c, int64_t v, uint8_t *out, size_t cap);
int tds_encode_float(const tds_column *c, double v, uint8_t *out, size_t cap);
int tds_encode_decimal(const tds_column *c, const tds_decimal *d, uint8_t *out, size_t cap);
int tds_encode_datetime(const tds_column *c, const tds_datetime *d, uint8_t *out, size_t cap);
int tds_encode_guid(const tds_column *c, const uint8_t rfc[16], uint8_t *out, size_t cap);
/* UTF-8 text into the column's encoding (UTF-16LE for nchar/xml, the code
 * page for char). Returns TDS_E_ENCODING for invalid or unmappable text. */
int tds_encode_text(const tds_column *c, const char *utf8, size_t len, uint8_t *out, size_t cap);

/* Parse canonical text back (the inverse of tds_value_text for these
 * kinds). Return TDS_OK or TDS_E_ARG. */
int tds_decimal_parse(const char *s, size_t len, uint8_t precision, uint8_t scale, tds_decimal *out);
int tds_datetime_parse(const char *s, size_t len, tds_kind kind, uint8_t scale, tds_datetime *out);
int tds_guid_parse(const char *s, size_t len, uint8_t rfc[16]);

/* Fills c from a type id plus length/precision/scale (collation zeroed =
 * Latin1_General_CI_AS, code page 1252) and derives kind/is_plp. For
 * building metadata in servers, RPC parameters and tests. */
int tds_column_init(tds_column *c, uint8_t type, uint32_t max_len,
                    uint8_t precision, uint8_t scale);

/* Code page for a collation (SortId, then LCID); 0 when unknown. */
uint16_t tds_collation_codepage(const uint8_t raw[5]);
void tds_collation_parse(const uint8_t raw[5], tds_collation *out);

/* UTF-16LE ↔ UTF-8. Return bytes written or TDS_E_SPACE / TDS_E_ENCODING
 * (lone surrogates are an encoding error). With out == NULL return the
 * length needed. */
int tds_utf16_to_utf8(const uint8_t *in, size_t in_bytes, char *out, size_t cap);
int tds_utf8_to_utf16(const char *in, size_t len, uint8_t *out, size_t cap);
/* Number of UTF-16 code units for UTF-8 text, or TDS_E_ENCODING. */
int tds_utf8_utf16_units(const char *in, size_t len);

/* ------------------------------------------------------------ PRELOGIN */

enum tds_prelogin_option {
    TDS_PL_VERSION = 0x00,
    TDS_PL_ENCRYPTION = 0x01,
    TDS_PL_INSTOPT = 0x02,
    TDS_PL_THREADID = 0x03,
    TDS_PL_MARS = 0x04,
    TDS_PL_TRACEID = 0x05,
    TDS_PL_FEDAUTHREQUIRED = 0x06,
    TDS_PL_NONCEOPT = 0x07,
    TDS_PL_TERMINATOR = 0xFF,
};

enum tds_encrypt {
    TDS_ENCRYPT_OFF = 0x00,
    TDS_ENCRYPT_ON = 0x01,
    TDS_ENCRYPT_NOT_SUP = 0x02,
    TDS_ENCRYPT_REQ = 0x03,
    TDS_ENCRYPT_CLIENT_CERT = 0x80, /* flag bit */
};

typedef struct tds_prelogin {
    uint32_t present;         /* bit (1u << option) for each option present */
    uint32_t version;         /* UL_VERSION, e.g. 0x0F001234 as big-endian bytes */
    uint16_t subbuild;
    uint8_t encryption;
    char instance[128];       /* INSTOPT, without the NUL */
    uint32_t thread_id;
    uint8_t mars;
    uint8_t trace_id[36];     /* connection id (16) + activity id (20) */
    uint8_t fedauth_required;
    uint8_t nonce[32];
} tds_prelogin;

/* Encodes the PRELOGIN option table plus data (the payload, no packet
 * header) into out. Returns the byte count or TDS_E_SPACE/TDS_E_ARG. */
int tds_prelogin_encode(const tds_prelogin *p, uint8_t *out, size_t cap);
/* Decodes a PRELOGIN payload. Unknown options are skipped; offsets beyond
 * the payload, overlapping the table, or a missing terminator are
 * TDS_E_PROTO. */
int tds_prelogin_decode(const uint8_t *in, size_t len, tds_prelogin *out);

/* -------------------------------------------------------------- LOGIN7 */

enum tds_feature_id {
    TDS_FEAT_SESSIONRECOVERY = 0x01,
    TDS_FEAT_FEDAUTH = 0x02,
    TDS_FEAT_COLUMNENCRYPTION = 0x04,
    TDS_FEAT_GLOBALTRANSACTIONS = 0x05,
    TDS_FEAT_AZURESQLSUPPORT = 0x08,
    TDS_FEAT_DATACLASSIFICATION = 0x09,
    TDS_FEAT_UTF8_SUPPORT = 0x0A,
    TDS_FEAT_AZURESQLDNSCACHING = 0x0B,
    TDS_FEAT_JSONSUPPORT = 0x0D,   /* issue 18: json type 0xF4 */
    TDS_FEAT_VECTORSUPPORT = 0x0E, /* issue 18: vector type 0xF5 */
    TDS_FEAT_TERMINATOR = 0xFF,
};

enum tds_fedauth_library {
    TDS_FEDAUTH_LIB_LIVEID = 0x00,
    TDS_FEDAUTH_LIB_SECURITYTOKEN = 0x01,
    TDS_FEDAUTH_LIB_ADAL = 0x02,
};

/* The ADAL/MSAL library's workflow byte (MS-TDS 2.2.6.4, FEDAUTH
 * FeatureData "Workflow"): what the client will do once the server sends
 * FEDAUTHINFO. */
enum tds_fedauth_workflow {
    TDS_FEDAUTH_WF_PASSWORD = 0x01,    /* user/password, service principal */
    TDS_FEDAUTH_WF_INTEGRATED = 0x02,
    TDS_FEDAUTH_WF_INTERACTIVE = 0x03, /* managed identity, default chain … */
};

/* Strings are UTF-8 and NUL-terminated (NULL = empty). On decode they
 * point into the caller's string buffer. */
typedef struct tds_login7 {
    uint32_t tds_version;     /* TDS_VERSION_74 */
    uint32_t packet_size;
    uint32_t client_prog_ver;
    uint32_t client_pid;
    uint32_t connection_id;
    uint8_t option_flags1;
    uint8_t option_flags2;
    uint8_t type_flags;
    uint8_t option_flags3;
    int32_t client_timezone;
    uint32_t client_lcid;
    const char *hostname;
    const char *username;
    const char *password;     /* cleartext; obfuscated on the wire */
    const char *appname;
    const char *servername;
    const char *library;
    const char *language;
    const char *database;
    const char *attach_db_file;
    const char *change_password;
    uint8_t client_id[6];
    const uint8_t *sspi;      /* never sent by us; decode reports it */
    uint32_t sspi_len;
    /* FeatureExt */
    bool fedauth;             /* send FEDAUTH with the security token */
    bool fedauth_echo;        /* must equal the server's FEDAUTHREQUIRED */
    uint8_t fedauth_library;  /* TDS_FEDAUTH_LIB_SECURITYTOKEN */
    const char *fedauth_token;/* UTF-8; sent as UTF-16LE */
    bool fedauth_has_nonce;
    uint8_t fedauth_nonce[32];
    bool utf8_support;        /* request UTF8_SUPPORT */
    /* FEDAUTH with fedauth_library TDS_FEDAUTH_LIB_ADAL: no token in the
     * LOGIN7; the server answers with FEDAUTHINFO and the client sends a
     * FEDAUTH_TOKEN message (tds_send_fedauth_token). */
    uint8_t fedauth_workflow; /* tds_fedauth_workflow (ADAL only) */
    uint8_t json_support;     /* JSONSUPPORT version to request; 0 = none */
    uint8_t vector_support;   /* VECTORSUPPORT version to request; 0 = none */
} tds_login7;

/* option_flags1 bits we set by default: USE_DB_ON, INIT_DB_FATAL, SET_LANG_ON.
 * option_flags2: INIT_LANG_FATAL, ODBC_ON. option_flags3: EXTENSION (0x10)
 * is set automatically when a feature is requested. */
#define TDS_LOGIN_OF1_USE_DB_ON 0x20
#define TDS_LOGIN_OF1_INIT_DB_FATAL 0x40
#define TDS_LOGIN_OF1_SET_LANG_ON 0x80
#define TDS_LOGIN_OF2_INIT_LANG_FATAL 0x01
#define TDS_LOGIN_OF2_ODBC_ON 0x02
#define TDS_LOGIN_OF2_INTEGRATED_SECURITY 0x80
#define TDS_LOGIN_OF3_EXTENSION 0x10

/* Encodes a LOGIN7 payload (no packet header) into out. Returns the byte
 * count, or TDS_E_SPACE / TDS_E_ARG (a field longer than the protocol
 * allows) / TDS_E_ENCODING (invalid UTF-8). */
int tds_login7_encode(const tds_login7 *l, uint8_t *out, size_t cap);
/* Decodes a LOGIN7 payload; strings (password de-obfuscated, token
 * included) are written as UTF-8 into strbuf (strcap bytes). Returns
 * TDS_OK, TDS_E_PROTO (offsets/lengths outside the payload, bad feature
 * block) or TDS_E_SPACE. */
int tds_login7_decode(const uint8_t *in, size_t len, tds_login7 *out,
                      char *strbuf, size_t strcap);
/* Password obfuscation on UTF-16LE bytes, in place (swap nibbles, XOR
 * 0xA5) and its inverse (XOR, then swap). */
void tds_password_obfuscate(uint8_t *b, size_t n);
void tds_password_deobfuscate(uint8_t *b, size_t n);

/* ------------------------------------------- FEDAUTH (Entra, issue 15) */

typedef struct tds_session tds_session; /* declared again below (C11) */

/* FEDAUTHINFO token data (MS-TDS 2.2.7.12), as the TDS_EV_FEDAUTHINFO
 * event's raw bytes (after the token byte and its DWORD length): STS URL
 * (FedAuthInfoID 0x01) and SPN (0x02), UTF-16LE on the wire, UTF-8 here.
 * Unknown info ids are skipped. */
typedef struct tds_fedauthinfo {
    char sts_url[1024];
    char spn[512];
} tds_fedauthinfo;
/* Returns TDS_OK, or TDS_E_PROTO (counts/offsets outside the data, bad
 * UTF-16, a field longer than its buffer) — never reads past len. */
int tds_fedauthinfo_decode(const uint8_t *data, size_t len, tds_fedauthinfo *out);
/* Server: a FEDAUTHINFO token (between msg_begin/end); NULL fields are
 * left out. */
int tds_put_fedauthinfo(tds_session *s, const char *sts_url, const char *spn);

/* FEDAUTH_TOKEN message (packet type 0x08, MS-TDS 2.2.6.3): DataLen,
 * token length + token (UTF-8 in, UTF-16LE on the wire), then the
 * server's 32-byte PRELOGIN nonce when nonce != NULL (the client MUST
 * echo it iff the server sent one). */
int tds_send_fedauth_token(tds_session *s, const char *token, const uint8_t *nonce);
/* Server: decodes a FEDAUTH_TOKEN payload; the token as UTF-8 into
 * tok (cap bytes, NUL-terminated); *has_nonce and nonce when present.
 * TDS_OK, TDS_E_PROTO or TDS_E_SPACE. */
int tds_fedauth_token_decode(const uint8_t *in, size_t len, char *tok, size_t cap,
                             bool *has_nonce, uint8_t nonce[32]);

/* --------------------------------------------------------------- events */

typedef enum tds_event_type {
    TDS_EV_NONE = 0,
    TDS_EV_MESSAGE,        /* a whole message (see tds_expect_message) */
    TDS_EV_COLMETADATA,
    TDS_EV_ROW,            /* ROW or NBCROW */
    TDS_EV_PLP_CHUNK,      /* a streamed PLP chunk; len 0 ends the value */
    TDS_EV_DONE,           /* DONE, DONEPROC or DONEINPROC */
    TDS_EV_RETURNSTATUS,
    TDS_EV_RETURNVALUE,
    TDS_EV_ENVCHANGE,
    TDS_EV_INFO,
    TDS_EV_ERROR,
    TDS_EV_LOGINACK,
    TDS_EV_FEATUREEXTACK,
    TDS_EV_ORDER,
    TDS_EV_COLINFO,
    TDS_EV_TABNAME,
    TDS_EV_FEDAUTHINFO,
    TDS_EV_MESSAGE_END,    /* the EOM packet of a token-stream message was consumed */
} tds_event_type;

enum tds_envchange_type {
    TDS_ENV_DATABASE = 1,
    TDS_ENV_LANGUAGE = 2,
    TDS_ENV_CHARSET = 3,
    TDS_ENV_PACKETSIZE = 4,
    TDS_ENV_SORT_LCID = 5,
    TDS_ENV_SORT_FLAGS = 6,
    TDS_ENV_COLLATION = 7,
    TDS_ENV_BEGIN_TRAN = 8,
    TDS_ENV_COMMIT_TRAN = 9,
    TDS_ENV_ROLLBACK_TRAN = 10,
    TDS_ENV_ENLIST_DTC = 11,
    TDS_ENV_DEFECT_TRAN = 12,
    TDS_ENV_MIRROR_PARTNER = 13,
    TDS_ENV_PROMOTE_TRAN = 15,
    TDS_ENV_TRAN_MANAGER_ADDR = 16,
    TDS_ENV_TRAN_ENDED = 17,
    TDS_ENV_RESET_ACK = 18,
    TDS_ENV_USER_INSTANCE = 19,
    TDS_ENV_ROUTING = 20,
};

/* A server ERROR or INFO: data, not a library error. */
typedef struct tds_server_msg {
    int32_t number;
    uint8_t state;
    uint8_t severity;     /* "class" */
    tds_str message;
    tds_str server;
    tds_str procedure;
    int32_t line;
} tds_server_msg;

typedef struct tds_envchange {
    uint8_t type;         /* tds_envchange_type */
    tds_str new_text;     /* string-valued types, UTF-8 */
    tds_str old_text;
    const uint8_t *new_raw; /* binary-valued types (collation, tran descriptors) */
    size_t new_raw_len;
    const uint8_t *old_raw;
    size_t old_raw_len;
    uint16_t routing_port;  /* TDS_ENV_ROUTING */
    tds_str routing_server; /* as sent, \instance included */
} tds_envchange;

typedef struct tds_loginack {
    uint8_t interface;
    uint32_t tds_version;
    tds_str prog_name;
    uint8_t major, minor;
    uint16_t build;
} tds_loginack;

typedef struct tds_feature_ack {
    uint8_t id;
    const uint8_t *data;
    uint32_t len;
} tds_feature_ack;

#define TDS_MAX_FEATURE_ACKS 16

typedef struct tds_event {
    tds_event_type type;
    uint8_t token;        /* the token byte that produced it, 0 if none */
    union {
        struct { uint8_t type; uint8_t status; const uint8_t *data; size_t len; } message;
        struct { uint16_t ncols; const tds_column *cols; } colmeta;
        struct { uint16_t ncols; const tds_column *cols; const tds_value *values; } row;
        struct { uint16_t col; const uint8_t *data; size_t len; } plp;
        struct { uint16_t status; uint16_t curcmd; uint64_t rowcount; } done;
        int32_t return_status;
        struct { uint16_t ordinal; tds_str name; uint8_t status; const tds_column *col; const tds_value *value; } retval;
        tds_envchange env;
        tds_server_msg msg;
        tds_loginack loginack;
        struct { size_t n; tds_feature_ack acks[TDS_MAX_FEATURE_ACKS]; } features;
        struct { uint16_t n; const uint16_t *cols; } order; /* 1-based column numbers */
        struct { const uint8_t *data; size_t len; } raw;    /* COLINFO, TABNAME, FEDAUTHINFO */
    } u;
} tds_event;

/* ------------------------------------------------------------- session */

typedef enum tds_role { TDS_ROLE_CLIENT = 0, TDS_ROLE_SERVER = 1 } tds_role;

typedef struct tds_alloc {
    void *(*malloc)(void *ud, size_t n);
    void *(*realloc)(void *ud, void *p, size_t n);
    void (*free)(void *ud, void *p);
    void *ud;
} tds_alloc;

/* Zero-initialised options are valid: client, 4096-byte packets, stdlib
 * allocator, default maxima. */
typedef struct tds_session_opts {
    tds_role role;
    uint32_t packet_size;     /* until ENVCHANGE says otherwise; 0 = 4096 */
    const tds_alloc *alloc;   /* NULL = malloc/realloc/free */
    size_t max_message;       /* whole-message events (requests, prelogin): 0 = 64 MiB */
    size_t max_row;           /* bytes one row may occupy in the buffer: 0 = 64 MiB */
    bool stream_plp;          /* PLP values as TDS_EV_PLP_CHUNK events */
} tds_session_opts;

typedef struct tds_session tds_session;

/* Returns a new session, or NULL when out of memory or opts is invalid. */
tds_session *tds_session_new(const tds_session_opts *opts);
void tds_session_free(tds_session *s);

/* The sticky error (0 when none) and the received-stream byte offset where
 * a protocol error was found (counted over payload bytes since the
 * session began). */
int tds_session_error(const tds_session *s);
uint64_t tds_error_offset(const tds_session *s);

/* Negotiated packet size (applied automatically from ENVCHANGE on the
 * client, set explicitly by a server). Returns TDS_E_ARG outside 512–32767. */
int tds_set_packet_size(tds_session *s, uint32_t size);
uint32_t tds_packet_size(const tds_session *s);

/* State the client picks up from ENVCHANGE: current transaction descriptor
 * (0 when none), database name, collation. */
uint64_t tds_transaction(const tds_session *s);
const char *tds_database(const tds_session *s);
const tds_collation *tds_session_collation(const tds_session *s);
/* What the server's FEATUREEXTACK said for a feature the LOGIN7 asked for:
 * 0 = not acknowledged, else the first byte of its ack data (the version
 * for JSONSUPPORT / VECTORSUPPORT), or 1 for an ack without data. */
uint8_t tds_session_feature_ack(const tds_session *s, uint8_t feature_id);

/* The next received message is delivered whole as TDS_EV_MESSAGE instead
 * of being decoded as tokens (the PRELOGIN reply, TLS handshake packets).
 * Servers get every message except BULK whole; BULK is decoded as tokens
 * (COLMETADATA, ROW, DONE). */
void tds_expect_message(tds_session *s);

/* --- receive (lending) */

/* Lends a place to read into. *len is how many bytes the session wants
 * now: the rest of an 8-byte packet header, or the rest of the payload.
 * Never lends past the current packet. Returns TDS_OK, or the sticky
 * error, or TDS_E_NOMEM. Invalidates all views from earlier events. */
int tds_recv_buf(tds_session *s, uint8_t **buf, size_t *len);
/* n bytes (<= the lent length) arrived. Returns TDS_OK, TDS_E_PROTO for a
 * bad header (type, length outside 8..packet_max) — sticky. */
int tds_recv_ack(tds_session *s, size_t n);
/* Copy-in convenience: feeds up to len bytes and returns how many were
 * taken (it stops after a packet ends so events can be pulled) or a
 * negative tds_err. */
ptrdiff_t tds_feed(tds_session *s, const uint8_t *in, size_t len);

/* The next event. Returns 1 with *ev filled, 0 when more bytes are needed
 * (read more, then call again), or a negative tds_err (sticky). */
int tds_next(tds_session *s, tds_event *ev);

/* True when no message is partly received and no event is pending. */
bool tds_idle(const tds_session *s);

/* --- send */

/* Bytes waiting to be written: *buf and *len, valid until the next send call.
 * tds_send_ack() drops n written bytes. */
void tds_send_buf(tds_session *s, const uint8_t **buf, size_t *len);
void tds_send_ack(tds_session *s, size_t n);
size_t tds_send_pending(const tds_session *s);

/* Start and end a message of the given packet type; everything put in
 * between is split into packets of the negotiated size (EOM on the last,
 * packet id counting from 1). status_bits (e.g. RESETCONNECTION) go on
 * every packet of the message. Return TDS_OK / TDS_E_STATE (nested) /
 * TDS_E_NOMEM. */
int tds_msg_begin(tds_session *s, uint8_t packet_type, uint8_t status_bits);
int tds_msg_end(tds_session *s);
/* Ends the message being sent with the IGNORE bit: the peer discards it. */
int tds_msg_abort(tds_session *s);
/* Raw payload bytes into the current message. */
int tds_put_bytes(tds_session *s, const void *p, size_t n);

/* Whole messages. */
int tds_send_message(tds_session *s, uint8_t packet_type, const uint8_t *payload, size_t len);
int tds_send_prelogin(tds_session *s, const tds_prelogin *p); /* client: 0x12; server: 0x04 */
int tds_send_login7(tds_session *s, const tds_login7 *l);      /* remembers requested features */
int tds_send_attention(tds_session *s);

/* SQL_BATCH with ALL_HEADERS (transaction descriptor from the session,
 * outstanding request count 1). sql is UTF-8, transcoded once to UTF-16LE. */
int tds_send_sql_batch(tds_session *s, const char *sql, size_t len);

/* RPC parameters. status: TDS_PARAM_BYREF for output parameters. The
 * value is raw wire bytes (see tds_encode_*) or, with TDS_VF_UTF8, UTF-8
 * text transcoded at encode time; TDS_VF_NULL for NULL. (max) types are
 * sent as PLP with a known length in one chunk. */
enum { TDS_PARAM_BYREF = 0x01, TDS_PARAM_DEFAULT = 0x02 };
typedef struct tds_param {
    const char *name;     /* UTF-8, "@name", or NULL for positional */
    uint8_t status;
    tds_column col;
    tds_value value;
} tds_param;

enum { TDS_PROC_SP_EXECUTESQL = 10, TDS_PROC_SP_PREPARE = 11, TDS_PROC_SP_EXECUTE = 12 };

typedef struct tds_rpc {
    uint16_t proc_id;       /* used when proc_name is NULL */
    const char *proc_name;  /* UTF-8 */
    uint16_t options;       /* WithRecomp 1, NoMetaData 2, ReuseMetaData 4 */
    const tds_param *params;
    size_t nparams;
} tds_rpc;

int tds_send_rpc(tds_session *s, const tds_rpc *r);

/* Decoding requests (server side, from a TDS_EV_MESSAGE payload).
 * ALL_HEADERS is validated and skipped; the transaction descriptor is
 * returned. SQL text comes back as UTF-8 into the caller's buffer,
 * NUL-terminated (cap must leave room for the NUL). */
int tds_sql_batch_decode(const uint8_t *in, size_t len, char *sql, size_t cap,
                         size_t *sql_len, uint64_t *transaction);
/* RPC: parameters decoded into params (at most max), views into `in`
 * (PLP parameters assembled into scratch, scap bytes); names as UTF-8 into
 * scratch too. Returns the parameter count or a negative tds_err. */
typedef struct tds_rpc_decoded {
    uint16_t proc_id;       /* 0 when called by name */
    tds_str proc_name;
    uint16_t options;
    uint64_t transaction;
} tds_rpc_decoded;
int tds_rpc_decode(const uint8_t *in, size_t len, tds_rpc_decoded *out,
                   tds_param *params, size_t max, uint8_t *scratch, size_t scap);

/* --- token encoders (servers, bulk load). Call between msg_begin/end. */

int tds_put_loginack(tds_session *s, const tds_loginack *a);
int tds_put_envchange(tds_session *s, const tds_envchange *e);
int tds_put_info(tds_session *s, const tds_server_msg *m);
int tds_put_error(tds_session *s, const tds_server_msg *m);
int tds_put_featureextack(tds_session *s, const tds_feature_ack *acks, size_t n);
int tds_put_done(tds_session *s, uint8_t token, uint16_t status, uint16_t curcmd, uint64_t rowcount);
int tds_put_returnstatus(tds_session *s, int32_t status);
/* n == 0 writes the 0xFFFF "no metadata" count, as SQL Server does. */
int tds_put_colmetadata(tds_session *s, const tds_column *cols, uint16_t n);
/* ROW; values must match cols (TDS_VF_UTF8 values are transcoded).
 * PLP values are written with a known length in chunks of at most
 * 8000 bytes; use tds_put_row_nbc for NBCROW (nulls as a bitmap). */
int tds_put_row(tds_session *s, const tds_column *cols, const tds_value *vals, uint16_t n);
int tds_put_nbcrow(tds_session *s, const tds_column *cols, const tds_value *vals, uint16_t n);
/* One value of a ROW being written piece by piece (after the token byte
 * put with tds_put_bytes), framed as tds_put_row would; PLP columns may
 * instead use tds_put_plp_begin/chunk/end (bulk load, unknown length). */
int tds_put_value(tds_session *s, const tds_column *c, const tds_value *v);
/* Row plans: a precomputed encoder for many rows of one result set.
 *
 * tds_row_plan_new() works out once, per column, what tds_put_row()
 * re-derives for every value: the framing (fixed size, 1- or 2-byte length
 * prefix, or the general path for PLP, text/ntext/image and sql_variant),
 * the lengths a value may have, and an upper bound for a row's bytes.
 * tds_put_rows() then writes whole batches of ROW (token TDS_TOK_ROW) or
 * NBCROW (TDS_TOK_NBCROW) tokens straight into the packets being filled,
 * sealing packets as they fill, with output byte-identical to calling
 * tds_put_row()/tds_put_nbcrow() once per row.
 *
 * Values are still validated, against the plan's precomputed limits: a
 * NULL where the framing cannot carry one, a length the type does not
 * allow, text beyond the declared length, TDS_VF_UTF8 text that is invalid
 * or does not fit. A rejected row leaves no byte in the message.
 * TDS_VF_UTF8 values are transcoded (in place when they fit the row's
 * bound); rows with PLP, text or variant columns take the general path,
 * still checked before their first byte.
 *
 * Lifetime: the plan copies what it needs from cols (type, lengths,
 * precision/scale, collation; not the names), so cols may be freed after
 * the call. It takes its allocator from s but keeps no reference to s: one
 * plan may serve any number of sessions, concurrently (tds_put_rows does
 * not modify it), and may outlive them. Free it with tds_row_plan_free().
 *
 * tds_row_plan_new returns TDS_OK with *out set, TDS_E_ARG (NULL s or
 * out, n && !cols, token neither ROW nor NBCROW), TDS_E_TYPE (a column
 * type that cannot be framed, as tds_put_colmetadata would refuse) or
 * TDS_E_NOMEM; *out is NULL on failure. */
typedef struct tds_row_plan tds_row_plan;
int tds_row_plan_new(tds_session *s, uint8_t token, const tds_column *cols, uint16_t n,
                     tds_row_plan **out);
/* NULL is a no-op. */
void tds_row_plan_free(tds_row_plan *p);
/* Columns of the plan. */
uint16_t tds_row_plan_ncols(const tds_row_plan *p);

/* Writes nrows rows; vals holds nrows * ncols views, row-major (row r,
 * column c at vals[r * ncols + c]). Call between msg_begin/end. Views need
 * to stay valid only during the call.
 *
 * Returns TDS_OK when every row was written. On failure *nput (when not
 * NULL) says how many rows were written completely, and:
 *   TDS_E_ARG / TDS_E_RANGE / TDS_E_TYPE / TDS_E_ENCODING: row *nput has a
 *     bad value (the same code tds_put_row would give for it); it left no
 *     bytes, and rows before it are in the message. The session stays
 *     usable: the caller may fix the row and go on, or abort the message.
 *   TDS_E_NOMEM: the message may end inside row *nput: tds_msg_abort().
 *   TDS_E_STATE (no message open), TDS_E_ARG (NULL s/p, nrows && !vals),
 *     or the sticky session error: nothing was written. */
int tds_put_rows(tds_session *s, const tds_row_plan *p, const tds_value *vals, size_t nrows,
                 size_t *nput);

int tds_put_returnvalue(tds_session *s, uint16_t ordinal, const char *name, uint8_t status,
                        const tds_column *col, const tds_value *val);
int tds_put_order(tds_session *s, const uint16_t *cols, uint16_t n);
int tds_put_colinfo(tds_session *s, const uint8_t *data, uint16_t len);
int tds_put_tabname(tds_session *s, const uint8_t *data, uint16_t len);

/* PLP with unknown length (bulk load of (max) values from a stream):
 * begin, any number of chunks, end. tds_put_plp_begin(s, true) writes a
 * NULL and completes the value: call neither chunk nor end after it. */
int tds_put_plp_begin(tds_session *s, bool null);
int tds_put_plp_chunk(tds_session *s, const void *p, uint32_t n);
int tds_put_plp_end(tds_session *s);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* TDS_TDS_H */
