/*
 * colspec.c — ingestr's --columns entries ("name:type", "name:type:source",
 * "name::source") into pipe_colspec: ingestr's type names (bigint int
 * smallint tinyint float double decimal(p,s) string text varchar(n)
 * boolean date timestamp timestamp_ntz json uuid binary, plus time, wei)
 * or SQL Server type names, mapped to the SQL Server type a source CASTs to.
 */
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pipe_int.h"
#include "tds_ascii.h"

static const struct {
    const char *name;
    const char *sql;
} col_types[] = {
    {"bigint", "bigint"}, {"int", "int"}, {"integer", "int"}, {"smallint", "smallint"},
    {"tinyint", "tinyint"}, {"float", "float"}, {"double", "float"}, {"real", "real"},
    {"decimal", "decimal(38,9)"}, {"numeric", "decimal(38,9)"}, {"wei", "decimal(38,0)"},
    {"string", "nvarchar(max)"}, {"text", "nvarchar(max)"}, {"json", "nvarchar(max)"},
    {"complex", "nvarchar(max)"}, {"varchar", "nvarchar(max)"}, {"nvarchar", "nvarchar(max)"},
    {"bool", "bit"}, {"boolean", "bit"}, {"bit", "bit"}, {"date", "date"}, {"time", "time(7)"},
    {"timestamp", "datetimeoffset(7)"}, {"timestamptz", "datetimeoffset(7)"},
    {"timestamp_ntz", "datetime2(7)"}, {"datetime", "datetime2(7)"}, {"datetime2", "datetime2(7)"},
    {"datetimeoffset", "datetimeoffset(7)"}, {"uuid", "uniqueidentifier"},
    {"uniqueidentifier", "uniqueidentifier"}, {"binary", "varbinary(max)"},
    {"varbinary", "varbinary(max)"}, {"money", "money"},
};

/* "name(args)" with args digits[,digits] or max, for types that take them. */
static int sized_type(const char *t, char *out, size_t cap)
{
    static const char *const sized[] = {"decimal", "numeric", "varchar", "nvarchar", "char", "nchar",
                                        "varbinary", "binary", "datetime2", "datetimeoffset", "time", "float", NULL};
    const char *lp = strchr(t, '(');
    if (!lp || t[strlen(t) - 1] != ')')
        return -1;
    size_t bn = (size_t)(lp - t);
    char base[32];
    if (bn == 0 || bn >= sizeof base)
        return -1;
    for (size_t i = 0; i < bn; i++)
        base[i] = (char)tolower((unsigned char)t[i]);
    base[bn] = '\0';
    bool ok = false;
    for (size_t i = 0; sized[i]; i++)
        ok |= !strcmp(base, sized[i]);
    if (!ok)
        return -1;
    const char *a = lp + 1;
    size_t an = strlen(a) - 1;
    char args[32];
    size_t k = 0;
    for (size_t i = 0; i < an; i++)
        if (!isspace((unsigned char)a[i])) {
            if (k + 1 >= sizeof args)
                return -1;
            args[k++] = a[i];
        }
    args[k] = '\0';
    an = k;
    if (an == 0)
        return -1;
    bool is_max = !tds_ascii_casecmp(args, "max");
    if (is_max && strcmp(base, "varchar") && strcmp(base, "nvarchar") && strcmp(base, "varbinary"))
        return -1;
    if (!is_max) {
        int commas = 0;
        for (char *p = args; *p; p++) {
            if (*p == ',')
                commas++;
            else if (!isdigit((unsigned char)*p))
                return -1;
        }
        if (commas > 1 || (commas && strcmp(base, "decimal") && strcmp(base, "numeric")) || args[0] == ',' ||
            args[an - 1] == ',')
            return -1;
        long v = strtol(args, NULL, 10);
        if (v <= 0 && strcmp(base, "datetime2") && strcmp(base, "datetimeoffset") && strcmp(base, "time"))
            return -1;
    }
    /* ingestr's varchar(n) is text: keep it Unicode */
    int w = !strcmp(base, "varchar") ? snprintf(out, cap, "nvarchar(%.31s)", args)
                                     : snprintf(out, cap, "%.31s(%.31s)", base, args);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

static int column_type(const char *t, char *out, size_t cap)
{
    for (size_t i = 0; i < sizeof col_types / sizeof col_types[0]; i++)
        if (!tds_ascii_casecmp(t, col_types[i].name)) {
            snprintf(out, cap, "%s", col_types[i].sql);
            return 0;
        }
    return sized_type(t, out, cap);
}

int pipe_colspec_parse(const char *s, pipe_colspec *out, char *why, size_t cap)
{
    memset(out, 0, sizeof *out);
    const char *c1 = strchr(s, ':');
    if (!c1 || c1 == s) {
        snprintf(why, cap, "'%.100s' is not name:type", s);
        return -1;
    }
    const char *c2 = strchr(c1 + 1, ':');
    size_t nn = (size_t)(c1 - s);
    if (nn >= sizeof out->name) {
        snprintf(why, cap, "column name too long");
        return -1;
    }
    memcpy(out->name, s, nn);
    char type[64];
    size_t tn = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
    if (tn >= sizeof type) {
        snprintf(why, cap, "unknown column type in '%.100s'", s);
        return -1;
    }
    memcpy(type, c1 + 1, tn);
    type[tn] = '\0';
    if (c2) {
        if (!c2[1] || strlen(c2 + 1) >= sizeof out->source) {
            snprintf(why, cap, "'%.100s': empty source column after the second ':'", s);
            return -1;
        }
        snprintf(out->source, sizeof out->source, "%s", c2 + 1);
    } else {
        snprintf(out->source, sizeof out->source, "%s", out->name);
    }
    if (!tn) {
        if (!c2) {
            snprintf(why, cap, "'%.100s' has no type", s);
            return -1;
        }
        return 0; /* rename only */
    }
    if (column_type(type, out->sqltype, sizeof out->sqltype)) {
        snprintf(why, cap,
                 "unknown column type '%.40s' for '%.100s' (use bigint, int, smallint, tinyint, float, double, "
                 "decimal(p,s), string, text, varchar(n), boolean, date, time, timestamp, timestamp_ntz, json, "
                 "uuid, binary or a SQL Server type)",
                 type, out->name);
        return -1;
    }
    return 0;
}
