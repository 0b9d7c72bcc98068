#!/usr/bin/python3
"""gen_codepages.py — generates tds/codepage_tables.c.

Emits, from Python's own codec tables (the unicode.org "bestfit-free"
mappings of the Windows and OEM code pages):

  * for each single-byte code page SQL Server uses (437, 850, 874,
    1250..1258): the 128 high-half bytes 0x80..0xFF → Unicode code point,
    with TDS__CP_UNDEF (0xFFFF) for bytes the code page leaves undefined, and
    the inverse map (code point → byte) sorted by code point for a binary
    search;
  * for 1258 (Vietnamese) the precomposed letters that code page spells as a
    base letter plus combining marks (Windows composes them the same way),
    so UTF-8 text in NFC can be stored in a Vietnamese varchar;
  * the SQL sort-order table (SortId → code page) and the Windows locale
    table (language id = low 16 bits of the LCID → ANSI code page). Their
    facts come from MS-TDS 2.2.5.1.2 ([MSDN-SQLCollation]: "SQL Server
    Collation Name", ms144250/ms180175) and Microsoft's own driver
    (mssql-jdbc SQLCollation: SortOrder / WindowsLocale, derived from SQL
    Server's sqlscol.cpp and localemap.h). Locales whose collations are
    Unicode-only (Hindi, Bengali, …) have no code page and are left out.

Usage: python3 scripts/gen_codepages.py > tds/codepage_tables.c
The output is committed; rerun only to change the tables.
"""
import codecs
import sys
import unicodedata

SBCS = [437, 850, 874, 1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258]
UNDEF = 0xFFFF

# SortId → code page (non-zero SortId means a "SQL_" collation).
SORT_IDS = {}
for ids, cp in [
    ((30, 31, 32, 33, 34, 35), 437),
    ((40, 41, 42, 43, 44, 45, 49, 55, 56, 57, 58, 59, 60, 61), 850),
    ((50, 51, 52, 53, 54, 71, 72, 73, 74, 75, 183, 184, 185, 186), 1252),
    (tuple(range(80, 99)), 1250),
    ((104, 105, 106, 107, 108), 1251),
    ((112, 113, 114, 120, 121, 122, 124), 1253),
    ((128, 129, 130), 1254),
    ((136, 137, 138), 1255),
    ((144, 145, 146), 1256),
    (tuple(range(152, 161)), 1257),
    ((192, 193, 200), 932),
    ((194, 195, 201), 949),
    ((196, 197, 202), 950),
    ((198, 199, 203), 936),
    ((204, 205, 206), 874),
    # SQL_EBCDICnnn_CP1_CS_AS: the char data is still code page 1252.
    (tuple(range(210, 218)), 1252),
]:
    for i in ids:
        assert i not in SORT_IDS, i
        SORT_IDS[i] = cp

# Language id (LCID & 0xFFFF) → ANSI code page, for SortId 0 collations.
LANGS = {
    0x0401: 1256, 0x0402: 1251, 0x0403: 1252, 0x0404: 950, 0x0405: 1250,
    0x0406: 1252, 0x0407: 1252, 0x0408: 1253, 0x0409: 1252, 0x040A: 1252,
    0x040B: 1252, 0x040C: 1252, 0x040D: 1255, 0x040E: 1250, 0x040F: 1252,
    0x0410: 1252, 0x0411: 932, 0x0412: 949, 0x0413: 1252, 0x0414: 1252,
    0x0415: 1250, 0x0416: 1252, 0x0417: 1252, 0x0418: 1250, 0x0419: 1251,
    0x041A: 1250, 0x041B: 1250, 0x041C: 1250, 0x041D: 1252, 0x041E: 874,
    0x041F: 1254, 0x0420: 1256, 0x0421: 1252, 0x0422: 1251, 0x0423: 1251,
    0x0424: 1250, 0x0425: 1257, 0x0426: 1257, 0x0427: 1257, 0x0428: 1251,
    0x0429: 1256, 0x042A: 1258, 0x042B: 1252, 0x042C: 1254, 0x042D: 1252,
    0x042E: 1252, 0x042F: 1251, 0x0432: 1252, 0x0434: 1252, 0x0435: 1252,
    0x0436: 1252, 0x0437: 1252, 0x0438: 1252, 0x043B: 1252, 0x043E: 1252,
    0x043F: 1251, 0x0440: 1251, 0x0441: 1252, 0x0442: 1250, 0x0443: 1254,
    0x0444: 1251, 0x0450: 1251, 0x0452: 1252, 0x0456: 1252, 0x045D: 1252,
    0x045E: 1252, 0x0462: 1252, 0x0464: 1252, 0x0468: 1252, 0x046A: 1252,
    0x046B: 1252, 0x046C: 1252, 0x046D: 1251, 0x046E: 1252, 0x046F: 1252,
    0x0470: 1252, 0x0478: 1252, 0x047A: 1252, 0x047C: 1252, 0x047E: 1252,
    0x0480: 1256, 0x0482: 1252, 0x0483: 1252, 0x0484: 1252, 0x0485: 1251,
    0x0486: 1252, 0x0487: 1252, 0x0488: 1252, 0x048C: 1256,
    0x0801: 1256, 0x0804: 936, 0x0807: 1252, 0x0809: 1252, 0x080A: 1252,
    0x080C: 1252, 0x0810: 1252, 0x0813: 1252, 0x0814: 1252, 0x0816: 1252,
    0x081A: 1250, 0x081D: 1252, 0x0827: 1257, 0x082C: 1251, 0x082E: 1252,
    0x083B: 1252, 0x083C: 1252, 0x083E: 1252, 0x0843: 1251, 0x0850: 1251,
    0x085D: 1252, 0x085F: 1252, 0x086B: 1252,
    0x0C01: 1256, 0x0C04: 950, 0x0C07: 1252, 0x0C09: 1252, 0x0C0A: 1252,
    0x0C0C: 1252, 0x0C1A: 1251, 0x0C3B: 1252, 0x0C6B: 1252,
    0x1001: 1256, 0x1004: 936, 0x1007: 1252, 0x1009: 1252, 0x100A: 1252,
    0x100C: 1252, 0x101A: 1250, 0x103B: 1252,
    0x1401: 1256, 0x1404: 950, 0x1407: 1252, 0x1409: 1252, 0x140A: 1252,
    0x140C: 1252, 0x141A: 1250, 0x143B: 1252,
    0x1801: 1256, 0x1809: 1252, 0x180A: 1252, 0x180C: 1252, 0x181A: 1250,
    0x183B: 1252,
    0x1C01: 1256, 0x1C09: 1252, 0x1C0A: 1252, 0x1C1A: 1251, 0x1C3B: 1252,
    0x2001: 1256, 0x2009: 1252, 0x200A: 1252, 0x201A: 1251, 0x203B: 1252,
    0x2401: 1256, 0x2409: 1252, 0x240A: 1252, 0x243B: 1252,
    0x2801: 1256, 0x2809: 1252, 0x280A: 1252,
    0x2C01: 1256, 0x2C09: 1252, 0x2C0A: 1252,
    0x3001: 1256, 0x3009: 1252, 0x300A: 1252,
    0x3401: 1256, 0x3409: 1252, 0x340A: 1252,
    0x3801: 1256, 0x380A: 1252,
    0x3C01: 1256, 0x3C0A: 1252,
    0x4001: 1256, 0x4009: 1252, 0x400A: 1252,
    0x4409: 1252, 0x440A: 1252,
    0x4809: 1252, 0x480A: 1252,
    0x4C0A: 1252,
    0x500A: 1252,
    0x540A: 1252,
}


def high_half(cp):
    name = "cp%d" % cp
    for b in range(0x80):
        assert bytes([b]).decode(name) == chr(b), (cp, b)  # ASCII-compatible
    hi = []
    for b in range(0x80, 0x100):
        try:
            ch = bytes([b]).decode(name)
        except UnicodeDecodeError:
            hi.append(UNDEF)
            continue
        assert len(ch) == 1 and ord(ch) < 0xFFFF, (cp, b)
        hi.append(ord(ch))
    return hi


def reverse(hi):
    rev = {}
    for i, u in enumerate(hi):
        if u == UNDEF:
            continue
        assert u >= 0x80, "a high byte maps into ASCII"
        assert u not in rev, "code page is not one-to-one"
        rev[u] = 0x80 + i
    return sorted(rev.items())


def compositions(cp):
    """Precomposed letters (NFC) that the code page spells as base + marks:
    the shortest base-plus-marks spelling canonically equivalent to them."""
    name = "cp%d" % cp

    def enc(s):
        try:
            return s.encode(name)
        except UnicodeEncodeError:
            return None

    chars = [bytes([b]).decode(name, "ignore") for b in range(256)]
    chars = [c for c in chars if c]
    marks = [c for c in chars if unicodedata.combining(c)]
    bases = [c for c in chars if not unicodedata.combining(c)]
    seqs = [""] + marks + [a + b for a in marks for b in marks]
    best = {}
    for b in bases:
        for m in seqs:
            if not m:
                continue
            nfc = unicodedata.normalize("NFC", b + m)
            if len(nfc) != 1 or enc(nfc) is not None:
                continue
            e = enc(b + m)
            u = ord(nfc)
            if u not in best or len(e) < len(best[u]):
                best[u] = e
    return sorted(best.items())


def main():
    w = sys.stdout.write
    w("/*\n * codepage_tables.c — GENERATED by scripts/gen_codepages.py from Python's\n"
      " * codec tables; do not edit. Single-byte code pages (high half → Unicode,\n"
      " * inverse sorted by code point), 1258's composed letters, SortId and\n"
      " * language-id → code page tables. See codepage_int.h.\n */\n")
    w('#include "codepage_int.h"\n\n')
    entries = []
    for cp in SBCS:
        hi = high_half(cp)
        rev = reverse(hi)
        w("static const uint16_t cp%d_hi[128] = {\n" % cp)
        for r in range(0, 128, 8):
            w("    " + ", ".join("0x%04X" % u for u in hi[r:r + 8]) + ",\n")
        w("};\n\n")
        w("static const tds__cp_rev cp%d_rev[%d] = {\n" % (cp, len(rev)))
        for i in range(0, len(rev), 4):
            w("    " + " ".join("{0x%04X, 0x%02X}," % p for p in rev[i:i + 4]) + "\n")
        w("};\n\n")
        comp = compositions(cp) if cp == 1258 else []
        if comp:
            w("static const tds__cp_comp cp%d_comp[%d] = {\n" % (cp, len(comp)))
            for u, b in comp:
                bb = list(b) + [0] * (3 - len(b))
                w("    {0x%04X, %d, {0x%02X, 0x%02X, 0x%02X}},\n" % (u, len(b), *bb))
            w("};\n\n")
        entries.append((cp, len(rev), len(comp)))
    w("const tds__sbcs tds__sbcs_tables[] = {\n")
    for cp, nrev, ncomp in entries:
        comp = "cp%d_comp" % cp if ncomp else "NULL"
        w("    {%d, %d, %d, cp%d_hi, cp%d_rev, %s},\n" % (cp, nrev, ncomp, cp, cp, comp))
    w("};\n")
    w("const size_t tds__sbcs_count = sizeof tds__sbcs_tables / sizeof tds__sbcs_tables[0];\n\n")

    w("const uint16_t tds__sortid_cp[256] = {\n")
    for sid in sorted(SORT_IDS):
        w("    [%d] = %d,\n" % (sid, SORT_IDS[sid]))
    w("};\n\n")
    langs = sorted(LANGS.items())
    w("const tds__lang_cp tds__lang_cps[%d] = {\n" % len(langs))
    for i in range(0, len(langs), 4):
        w("    " + " ".join("{0x%04X, %d}," % p for p in langs[i:i + 4]) + "\n")
    w("};\n")
    w("const size_t tds__lang_cp_count = %d;\n" % len(langs))


if __name__ == "__main__":
    main()
