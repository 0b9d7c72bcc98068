/*
 * sql_parse_int.h — private header shared by the parser's files:
 * sql_parse.c (statements, expressions, table references) and
 * sql_parse_sub.c (conditions with AND/OR/NOT/EXISTS, subqueries, common
 * table expressions, OVER clauses). The parser state P and the token
 * helpers; nothing here is used outside the parser.
 */
#ifndef TDSTESTD_SQL_PARSE_INT_H
#define TDSTESTD_SQL_PARSE_INT_H

#include "query_int.h"

#define SQL_MAX_CTE 8

typedef struct P {
    sql_tok *t;
    int i, n;
    sql_batch *b;
    sql_perr *err;
    bool failed;
    /* common table expressions in scope (the current statement's WITH) */
    struct { char name[SRV_NAME_MAX]; sql_select *sel; } cte[SQL_MAX_CTE];
    int ncte;
    int depth;              /* nesting of conditions, subqueries, expressions */
} P;

/* SQL Server's limit on nesting; deeper is error 191 (and the stack stays
 * bounded whatever the client sends) */
#define SQL_MAX_DEPTH 128
/* Enters one nesting level: false with error 191 past the limit. */
bool nest(P *p);

/* token helpers (sql_parse.c) */
bool is_reserved(const sql_tok *k);
sql_tok *cur(P *p);
void sql_fail(P *p);
bool kw(P *p, const char *w);
bool accept_kw(P *p, const char *w);
bool expect_kw(P *p, const char *w);
bool op(P *p, const char *o);
bool accept_op(P *p, const char *o);
bool expect_op(P *p, const char *o);
bool is_name(P *p);
bool name_any(P *p, char *out);
bool name(P *p, char *out);
sql_expr *new_expr(P *p, expr_type t);
sql_expr *expr(P *p);
bool tname(P *p, sql_tref *r);
bool alias(P *p, char *out);
bool table_hints(P *p);
bool select_body(P *p, sql_select *s);

/* sql_parse_sub.c */
/* A search condition (AND/OR/NOT, parentheses, EXISTS) into w. */
bool cond(P *p, sql_where *w);
/* "( SELECT … )" after the caller saw "(" + SELECT: a new select. */
sql_select *subquery(P *p);
/* OVER (PARTITION BY … ORDER BY …) after a function call e. */
bool over_clause(P *p, sql_expr *e);
/* WITH name AS (SELECT …) [, …]: fills p->cte. */
bool with_clause(P *p);
/* Points r at a CTE when its one-part name is one in scope. */
void cte_bind(P *p, sql_tref *r);
/* False with error 4406 when st writes to a CTE (outside the subset). */
bool cte_not_target(P *p, const sql_stmt *st);

#endif
