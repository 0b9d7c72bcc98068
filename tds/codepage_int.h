/*
 * codepage_int.h — internals of the code page module (codepage.c and the
 * generated codepage_tables.c). Not installed.
 *
 * Collation flag bits as stored in tds_collation.flags: bits 20..27 of the
 * collation's little-endian first 32 bits, in the order MS-TDS 2.2.5.1.2
 * gives for ColFlags (ignore-case, ignore-accent, ignore-kana,
 * ignore-width, binary, binary2, UTF8, reserved). TDS_COLL_UTF8 is bit 0x04
 * of raw[3].
 */
#ifndef TDS_CODEPAGE_INT_H
#define TDS_CODEPAGE_INT_H

#include "tds_int.h"

enum tds_coll_flags {
    TDS_COLL_IGNORE_CASE = 0x01,
    TDS_COLL_IGNORE_ACCENT = 0x02,
    TDS_COLL_IGNORE_KANA = 0x04,
    TDS_COLL_IGNORE_WIDTH = 0x08,
    TDS_COLL_BINARY = 0x10,
    TDS_COLL_BINARY2 = 0x20,
    TDS_COLL_UTF8 = 0x40,
};

#define TDS_CP_UTF8 65001

/* A high-half byte the code page leaves undefined (U+FFFF is a
 * noncharacter, never the image of a code page byte). */
#define TDS__CP_UNDEF 0xFFFFu

/* Code point → byte, sorted by code point (non-ASCII only). */
typedef struct tds__cp_rev {
    uint16_t uni;
    uint8_t byte;
} tds__cp_rev;

/* A precomposed letter the code page spells as base + combining marks. */
typedef struct tds__cp_comp {
    uint16_t uni;
    uint8_t n;
    uint8_t bytes[3];
} tds__cp_comp;

/* A single-byte code page whose low half is ASCII. */
typedef struct tds__sbcs {
    uint16_t codepage;
    uint16_t nrev;
    uint16_t ncomp;
    const uint16_t *hi;        /* 128: byte 0x80 + i → code point or UNDEF */
    const tds__cp_rev *rev;    /* nrev, sorted by uni */
    const tds__cp_comp *comp;  /* ncomp, sorted by uni, or NULL */
} tds__sbcs;

typedef struct tds__lang_cp {
    uint16_t lang;   /* LCID & 0xFFFF */
    uint16_t codepage;
} tds__lang_cp;

extern const tds__sbcs tds__sbcs_tables[];
extern const size_t tds__sbcs_count;
extern const uint16_t tds__sortid_cp[256];       /* 0 = unknown SortId */
extern const tds__lang_cp tds__lang_cps[];        /* sorted by lang */
extern const size_t tds__lang_cp_count;

/* The single-byte table for a code page, or NULL. */
const tds__sbcs *tds__sbcs_find(uint16_t codepage);

/* The code page a char column's bytes are in: the collation's derived code
 * page; a zeroed collation (tds_column_init's default) means 1252. 0 when
 * unknown. */
uint16_t tds__column_codepage(const tds_column *c);

#endif /* TDS_CODEPAGE_INT_H */
