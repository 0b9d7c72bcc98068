/*
 * mssql_int.h — what the SQL Server sink's files share: type names
 * (mssql_type.c) and the strategy statements (mssql_sql.c) used by the
 * sink itself (mssql.c).
 */
#ifndef TDSPIPE_MSSQL_INT_H
#define TDSPIPE_MSSQL_INT_H

#include "sink_int.h"

/* T-SQL type of c. key: capped to an indexable size (nvarchar(450),
 * varchar/varbinary(900)); collate: add COLLATE for known collations. */
const char *sink__ms_type(const tds_column *c, bool key, bool collate, char *tmp, size_t cap);
/* The BulkLoadBCP description of a column of src's values (xml as
 * nvarchar(max), UDT as varbinary(max), only the nullable flag). name and
 * table are borrowed. */
int sink__ms_wire_col(tds_column *w, const tds_column *src, const char *name, const char *table);

/* [name] with ] doubled. */
int sink__ms_ident(sink_buf *b, const char *name);
/* CREATE TABLE qname (cols [, _tdspipe_ord bigint] [, PRIMARY KEY (…)]). */
int sink__ms_create(sink_buf *b, const sink_schema *sc, const char *table, bool with_ord, bool with_pk);
/* INSERT BULK qname ([col] type, …) WITH (TABLOCK, ROWS_PER_BATCH = n). */
int sink__ms_insert_bulk(sink_buf *b, const sink_schema *sc, const char *table, bool with_ord, size_t rows);
/* Merge of a stage whose keys are all distinct: one MERGE statement
 * (update matched rows, insert the others), then DROP stage. */
int sink__ms_merge_unique(sink_buf *b, const sink_schema *sc, const char *stage);
/* Change Tracking merge of stage into the target (sink.h, sink_table.cdc). */
int sink__ms_cdc_merge(sink_buf *b, const sink_schema *sc, const char *stage);
/* A literal of a non-NULL value of c's type (delete+insert window). */
int sink__ms_literal(sink_buf *b, const tds_column *c, const tds_value *v);
/* The statements that write s's pending state into _tdspipe_state; the
 * table must exist (mssql.c creates it). */
int sink__ms_state(sink_buf *b, const sink *s);

#endif
