/* test_source.c — pipe/mssql_text.c, colspec.c, naming.c: table names,
 * --columns, literals, naming. */
#include <criterion/criterion.h>
#include <string.h>

#include "mssql_int.h"

static void name_is(const char *in, const char *db, const char *schema, const char *table)
{
    pipe_mssql_name n;
    char err[256];
    cr_assert_eq(pipe_mssql_name_parse(in, &n, err, sizeof err), 0, "%s: %s", in, err);
    cr_expect(!n.is_query);
    if (db)
        cr_expect_str_eq(n.db, db, "%s", in);
    else
        cr_expect_null(n.db, "%s", in);
    cr_expect_str_eq(n.schema, schema, "%s", in);
    cr_expect_str_eq(n.table, table, "%s", in);
    pipe_mssql_name_free(&n);
}

Test(source, names)
{
    name_is("customers", NULL, "dbo", "customers");
    name_is("sales.orders", NULL, "sales", "orders");
    name_is("[my schema].[my.table]", NULL, "my schema", "my.table");
    name_is("[a]]b].[c]", NULL, "a]b", "c");
    name_is("\"q\".\"t\"", NULL, "q", "t");
    name_is("demo.sales.orders", "demo", "sales", "orders");
    name_is("[demo].[dbo].[customers]", "demo", "dbo", "customers");
    name_is("demo..customers", "demo", "dbo", "customers");
}

Test(source, bad_names)
{
    static const char *const bad[] = {"a.b.c.d", "[open", "s.", ".t", "[a]x.b", "query:   ", NULL};
    for (size_t i = 0; bad[i]; i++) {
        pipe_mssql_name n;
        char err[256] = "";
        cr_expect_eq(pipe_mssql_name_parse(bad[i], &n, err, sizeof err), TDSPIPE_E_USAGE, "%s accepted", bad[i]);
        cr_expect(err[0]);
        pipe_mssql_name_free(&n);
    }
}

Test(source, query_and_quoting)
{
    pipe_mssql_name n;
    char err[256];
    cr_assert_eq(pipe_mssql_name_parse("query:SELECT 1 AS x", &n, err, sizeof err), 0);
    cr_assert(n.is_query);
    cr_assert_str_eq(n.query, "SELECT 1 AS x");
    pipe_mssql_name_free(&n);
    cr_assert_eq(pipe_mssql_name_parse("db.[s]]x].t", &n, err, sizeof err), 0);
    char *q = pipe_mssql_quoted(&n);
    cr_assert_str_eq(q, "[db].[s]]x].[t]");
    free(q);
    pipe_mssql_name_free(&n);
}

Test(source, colspecs)
{
    static const struct {
        const char *in, *name, *source, *type;
    } ok[] = {
        {"id:bigint", "id", "id", "bigint"},
        {"amount:decimal(10,2)", "amount", "amount", "decimal(10,2)"},
        {"amount:decimal(10, 2)", "amount", "amount", "decimal(10,2)"},
        {"n:varchar(50):name", "n", "name", "nvarchar(50)"},
        {"e::email", "e", "email", ""},
        {"t:timestamp", "t", "t", "datetimeoffset(7)"},
        {"t:timestamp_ntz", "t", "t", "datetime2(7)"},
        {"b:boolean", "b", "b", "bit"},
        {"j:json", "j", "j", "nvarchar(max)"},
        {"u:uuid", "u", "u", "uniqueidentifier"},
        {"x:binary", "x", "x", "varbinary(max)"},
        {"d:double", "d", "d", "float"},
        {"s:string", "s", "s", "nvarchar(max)"},
        {"z:datetime2(3)", "z", "z", "datetime2(3)"},
        {"z:NVARCHAR(MAX)", "z", "z", "nvarchar(MAX)"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        pipe_colspec c;
        char why[300];
        cr_expect_eq(pipe_colspec_parse(ok[i].in, &c, why, sizeof why), 0, "%s: %s", ok[i].in, why);
        cr_expect_str_eq(c.name, ok[i].name);
        cr_expect_str_eq(c.source, ok[i].source);
        cr_expect_str_eq(c.sqltype, ok[i].type, "%s", ok[i].in);
    }
    static const char *const bad[] = {"id", ":int", "id:", "id:foo", "id:decimal(a,b)", "id:int(5)",
                                      "id:decimal(1,2,3)", "id:varchar(0)", "id:int:", NULL};
    for (size_t i = 0; bad[i]; i++) {
        pipe_colspec c;
        char why[300] = "";
        cr_expect_eq(pipe_colspec_parse(bad[i], &c, why, sizeof why), -1, "%s accepted", bad[i]);
        cr_expect(why[0]);
    }
}

Test(source, literals)
{
    char err[256];
    static const struct {
        const char *type, *in, *out;
    } ok[] = {
        {"int", "42", "42"},
        {"bigint", "-7", "-7"},
        {"decimal", "12.50", "12.50"},
        {"float", "1e3", "1e3"},
        {"date", "2024-01-15", "CAST(N'2024-01-15' AS date)"},
        {"date", "2024-01-15T10:00:00Z", "CAST(N'2024-01-15' AS date)"},
        {"datetime2", "2024-01-15", "CAST(N'2024-01-15' AS datetime2(7))"},
        {"datetime2", "2024-01-15 10:20:30", "CAST(N'2024-01-15 10:20:30.0000000' AS datetime2(7))"},
        {"datetime", "2024-01-15T10:20:30.5+02:00", "CAST(N'2024-01-15 08:20:30.5000000' AS datetime2(7))"},
        {"datetime2", "2024-01-01T00:30:00+01:00", "CAST(N'2023-12-31 23:30:00.0000000' AS datetime2(7))"},
        {"datetimeoffset", "2024-01-15T10:20:30-05:30",
         "CAST(N'2024-01-15 10:20:30.0000000 -05:30' AS datetimeoffset(7))"},
        {"datetimeoffset", "2024-01-15 10:20:30",
         "CAST(N'2024-01-15 10:20:30.0000000 +00:00' AS datetimeoffset(7))"},
        {"nvarchar", "O'Brien", "N'O''Brien'"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *s = pipe_sql_literal(ok[i].type, ok[i].in, err, sizeof err);
        cr_assert_not_null(s, "%s %s: %s", ok[i].type, ok[i].in, err);
        cr_expect_str_eq(s, ok[i].out, "%s %s", ok[i].type, ok[i].in);
        free(s);
    }
    static const struct {
        const char *type, *in;
    } bad[] = {{"int", "1.5"}, {"int", "1; DROP TABLE x"}, {"decimal", "abc"},
               {"date", "yesterday"}, {"datetime2", "2024-13-01"}, {"datetime2", "2024-01-01T25:00:00"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *s = pipe_sql_literal(bad[i].type, bad[i].in, err, sizeof err);
        cr_expect_null(s, "%s %s accepted", bad[i].type, bad[i].in);
        free(s);
    }
}

Test(source, naming)
{
    static const struct {
        const char *in, *out;
    } snake[] = {{"CustomerID", "customer_id"}, {"createdAt", "created_at"}, {"Order Date", "order_date"},
                 {"already_snake", "already_snake"}, {"HTTPServer", "http_server"}, {"9lives", "_9lives"},
                 {"a--b", "a_b"}};
    for (size_t i = 0; i < sizeof snake / sizeof snake[0]; i++) {
        char *s = pipe_name_apply(TDSPIPE_NAMING_SNAKE, snake[i].in);
        cr_expect_str_eq(s, snake[i].out, "%s", snake[i].in);
        free(s);
    }
    char *d = pipe_name_apply(TDSPIPE_NAMING_DIRECT, "CustomerID");
    cr_expect_str_eq(d, "CustomerID");
    free(d);
}

/* Dates and times normalised for literals and bounds; a truncated seconds
 * field is refused without reading past the end of the text. */
Test(source, datetime_norm)
{
    char out[64];
    bool ht, ho;
    cr_assert_eq(pipe_datetime_norm("2024-02-01T00:30:00+01:00", true, out, sizeof out, &ht, &ho), 0);
    cr_assert_str_eq(out, "2024-01-31 23:30:00.0000000");
    cr_assert(ht && ho);
    cr_assert_eq(pipe_datetime_norm("2024-02-01 10:00:05.123456789 -0530", false, out, sizeof out, &ht, &ho), 0);
    cr_assert_str_eq(out, "2024-02-01 10:00:05.1234567 -05:30");
    cr_assert_eq(pipe_datetime_norm("2024-02-01", false, out, sizeof out, &ht, &ho), 0);
    cr_assert_str_eq(out, "2024-02-01");
    cr_assert(!ht && !ho);
    static const char *const bad[] = {"2024-02-01T10:00:5", "2024-02-01T10:00:", "2024-02-01T10:00+1",
                                      "2024-02-01T25:00", "2024-02-01T10:00:00.", "2024-02-01x", NULL};
    for (size_t i = 0; bad[i]; i++) {
        char *heap = strdup(bad[i]); /* ASan sees a read past its end */
        cr_expect_eq(pipe_datetime_norm(heap, true, out, sizeof out, &ht, &ho), -1, "%s accepted", bad[i]);
        free(heap);
    }
}
