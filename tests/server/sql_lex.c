/*
 * sql_lex.c — tokenizer for tdstestd's SQL subset: identifiers (bare,
 * [bracketed] with ]] escapes, "quoted" with "" escapes), @variables and
 * @@system variables, numbers (integers, decimals, 1e5 floats), 0x binary
 * literals, '…' and N'…' strings with '' escapes, operators, and both
 * comment forms (-- to end of line, and nested slash-star blocks).
 *
 * Invariants: token text (unquoted names, unescaped strings) lives in one
 * block sized to the batch, so no token needs its own allocation.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "query_int.h"

static bool ident_start(unsigned char c) { return isalpha(c) || c == '_' || c == '#' || c >= 0x80; }
static bool ident_char(unsigned char c) { return isalnum(c) || c == '_' || c == '#' || c == '$' || c == '@' || c >= 0x80; }

int sql_lex(const char *sql, size_t len, sql_tok **toks, char **textmem, size_t *err_off)
{
    size_t cap = 64, n = 0;
    sql_tok *t = malloc(cap * sizeof *t);
    char *text = malloc(len * 2 + 16);
    size_t to = 0;
    if (!t || !text) {
        free(t);
        free(text);
        *err_off = 0;
        return -1;
    }
    size_t i = 0;
    for (;;) {
        /* whitespace and comments */
        for (;;) {
            while (i < len && isspace((unsigned char)sql[i]))
                i++;
            if (i + 1 < len && sql[i] == '-' && sql[i + 1] == '-') {
                while (i < len && sql[i] != '\n')
                    i++;
                continue;
            }
            if (i + 1 < len && sql[i] == '/' && sql[i + 1] == '*') {
                size_t start = i;
                int depth = 0;
                while (i < len) {
                    if (i + 1 < len && sql[i] == '/' && sql[i + 1] == '*') { depth++; i += 2; }
                    else if (i + 1 < len && sql[i] == '*' && sql[i + 1] == '/') { depth--; i += 2; if (!depth) break; }
                    else i++;
                }
                if (depth) {
                    *err_off = start;
                    goto fail;
                }
                continue;
            }
            break;
        }
        if (n + 1 >= cap) {
            cap *= 2;
            sql_tok *nt = realloc(t, cap * sizeof *t);
            if (!nt)
                goto fail_mem;
            t = nt;
        }
        sql_tok *k = &t[n];
        memset(k, 0, sizeof *k);
        k->off = i;
        k->p = sql + i;
        if (i >= len) {
            k->t = TK_EOF;
            n++;
            break;
        }
        unsigned char c = (unsigned char)sql[i];
        size_t start = i;
        if ((c == 'N' || c == 'n') && i + 1 < len && sql[i + 1] == '\'') {
            k->unicode = true;
            i++;
            c = '\'';
        }
        if (c == '\'' || c == '[' || c == '"') {
            char close = c == '[' ? ']' : (char)c;
            size_t qstart = start;
            i++;
            k->text = text + to;
            for (;;) {
                if (i >= len) {
                    *err_off = qstart;
                    goto fail;
                }
                if (sql[i] == close) {
                    if (i + 1 < len && sql[i + 1] == close) {
                        text[to++] = close;
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                text[to++] = sql[i++];
            }
            k->tlen = (size_t)(text + to - k->text);
            text[to++] = 0;
            k->t = c == '\'' ? TK_STR : TK_QIDENT;
        } else if (c == '0' && i + 1 < len && (sql[i + 1] == 'x' || sql[i + 1] == 'X')) {
            i += 2;
            while (i < len && isxdigit((unsigned char)sql[i]))
                i++;
            k->t = TK_BIN;
        } else if (isdigit(c) || (c == '.' && i + 1 < len && isdigit((unsigned char)sql[i + 1]))) {
            while (i < len && (isdigit((unsigned char)sql[i]) || sql[i] == '.'))
                i++;
            if (i < len && (sql[i] == 'e' || sql[i] == 'E')) {
                size_t j = i + 1;
                if (j < len && (sql[j] == '+' || sql[j] == '-'))
                    j++;
                if (j < len && isdigit((unsigned char)sql[j])) {
                    i = j;
                    while (i < len && isdigit((unsigned char)sql[i]))
                        i++;
                }
            }
            k->t = TK_NUM;
        } else if (c == '@') {
            i++;
            if (i < len && sql[i] == '@')
                i++;
            while (i < len && ident_char((unsigned char)sql[i]))
                i++;
            k->t = TK_VAR;
        } else if (ident_start(c)) {
            while (i < len && ident_char((unsigned char)sql[i]))
                i++;
            k->t = TK_IDENT;
        } else {
            static const char *two[] = { "<=", ">=", "<>", "!=", "!<", "!>" };
            k->t = TK_OP;
            i++;
            for (size_t q = 0; q < sizeof two / sizeof two[0]; q++)
                if (start + 1 < len && sql[start] == two[q][0] && sql[start + 1] == two[q][1])
                    i = start + 2;
        }
        k->n = i - start;
        if (k->t != TK_STR && k->t != TK_QIDENT) {
            k->text = text + to;
            memcpy(k->text, sql + start, k->n);
            k->tlen = k->n;
            to += k->n;
            text[to++] = 0;
        }
        n++;
    }
    *toks = t;
    *textmem = text;
    return (int)n;
fail_mem:
    *err_off = 0;
fail:
    free(t);
    free(text);
    return -1;
}
