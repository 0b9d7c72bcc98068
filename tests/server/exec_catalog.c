/*
 * exec_catalog.c — the system views of the subset, built on demand as
 * temporary tables of the current (or named) database so the ordinary
 * SELECT machinery filters, joins and orders them:
 *   INFORMATION_SCHEMA.TABLES, COLUMNS, TABLE_CONSTRAINTS, KEY_COLUMN_USAGE,
 *   SCHEMATA; sys.tables, sys.objects, sys.schemas, sys.columns, sys.types,
 *   sys.indexes, sys.index_columns, sys.key_constraints, sys.databases,
 *   sys.change_tracking_databases, sys.change_tracking_tables,
 *   sys.partitions and sys.dm_db_partition_stats (one partition per
 *   table: index_id 1 with a primary key, 0 for a heap; its live rows).
 * Column lists are SQL Server's (README.md lists them); columns we cannot
 * fill meaningfully are NULL or SQL Server's usual default.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query_int.h"

typedef struct cat {
    srv_table *t;
    int n;
    srv_val row[40];
    char text[40][SRV_NAME_MAX];
} cat;

/* spec: "NAME:type" or "NAME:type?" (nullable), comma separated */
static srv_table *cat_new(const char *schema, const char *name, const char *spec)
{
    srv_coldef defs[40];
    int n = 0;
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *p = buf, *tok; (tok = strsep(&p, ",")) && n < 40; n++) {
        char *colon = strchr(tok, ':');
        *colon = 0;
        char *type = colon + 1;
        size_t tl = strlen(type);
        bool nullable = tl && type[tl - 1] == '?';
        if (nullable)
            type[tl - 1] = 0;
        memset(&defs[n], 0, sizeof defs[n]);
        srv_type_parse(type, &defs[n]);
        snprintf(defs[n].name, sizeof defs[n].name, "%s", tok);
        defs[n].nullable = nullable;
        if (!nullable)
            defs[n].col.flags &= (uint16_t)~TDS_COL_NULLABLE;
    }
    return srv_table_new(schema, name, defs, (uint16_t)n);
}

static void put_s(cat *c, const char *s)
{
    if (!s) {
        c->row[c->n++] = sv_null();
        return;
    }
    snprintf(c->text[c->n], SRV_NAME_MAX, "%s", s);
    c->row[c->n] = sv_str(c->text[c->n], strlen(c->text[c->n]));
    c->n++;
}

static void put_i(cat *c, int64_t v) { c->row[c->n++] = sv_int(v); }
static void put_null(cat *c) { c->row[c->n++] = sv_null(); }

static void end_row(cat *c)
{
    uint64_t off;
    if (srv_table_insert_vals(c->t, c->row, &off) == 0)
        srv_table_append(c->t, off);
    c->n = 0;
}

/* sys.types ids */
static int type_id(const srv_coldef *d)
{
    static const struct { const char *n; int id; } ids[] = {
        { "bit", 104 }, { "tinyint", 48 }, { "smallint", 52 }, { "int", 56 }, { "bigint", 127 },
        { "real", 59 }, { "float", 62 }, { "smallmoney", 122 }, { "money", 60 }, { "decimal", 106 },
        { "numeric", 108 }, { "smalldatetime", 58 }, { "datetime", 61 }, { "date", 40 }, { "time", 41 },
        { "datetime2", 42 }, { "datetimeoffset", 43 }, { "uniqueidentifier", 36 }, { "char", 175 },
        { "varchar", 167 }, { "nchar", 239 }, { "nvarchar", 231 }, { "binary", 173 }, { "varbinary", 165 },
        { "text", 35 }, { "ntext", 99 }, { "image", 34 }, { "xml", 241 }, { "sql_variant", 98 },
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (srv_ieq(ids[i].n, d->type_name))
            return ids[i].id;
    return 0;
}

static bool is_text(const srv_coldef *d) { return d->col.kind == TDS_K_CHAR || d->col.kind == TDS_K_NCHAR; }

static void info_columns(cat *c, srv_database *d)
{
    for (size_t i = 0; i < d->ntables; i++) {
        srv_table *t = d->tables[i];
        for (uint16_t k = 0; k < t->ncols; k++) {
            const srv_coldef *cd = &t->cols[k];
            put_s(c, d->name); put_s(c, t->schema); put_s(c, t->name); put_s(c, cd->name);
            put_i(c, k + 1); put_null(c); put_s(c, cd->nullable ? "YES" : "NO"); put_s(c, cd->type_name);
            bool txt = is_text(cd) || cd->col.kind == TDS_K_BINARY || cd->col.kind == TDS_K_XML;
            if (txt) {
                put_i(c, cd->char_len); put_i(c, cd->max_length == -1 ? -1 : cd->col.type == TDS_T_TEXT || cd->col.type == TDS_T_IMAGE ? 2147483647 : cd->col.type == TDS_T_NTEXT ? 2147483646 : cd->max_length);
            } else {
                put_null(c); put_null(c);
            }
            bool num = cd->col.kind >= TDS_K_TINYINT && cd->col.kind <= TDS_K_DECIMAL && cd->col.kind != TDS_K_BIT;
            if (num) {
                put_i(c, cd->col.precision); put_i(c, cd->col.kind == TDS_K_REAL || cd->col.kind == TDS_K_FLOAT ? 2 : 10);
                if (cd->col.kind == TDS_K_REAL || cd->col.kind == TDS_K_FLOAT) put_null(c); else put_i(c, cd->col.scale);
            } else {
                put_null(c); put_null(c); put_null(c);
            }
            bool dt = cd->col.kind >= TDS_K_SMALLDATETIME && cd->col.kind <= TDS_K_DATETIMEOFFSET;
            if (dt) put_i(c, cd->col.kind == TDS_K_DATE || cd->col.kind == TDS_K_SMALLDATETIME ? 0 : cd->col.scale); else put_null(c);
            put_null(c); put_null(c);
            put_s(c, is_text(cd) ? (cd->col.kind == TDS_K_NCHAR ? "UNICODE" : "iso_1") : NULL);
            put_null(c); put_null(c);
            put_s(c, is_text(cd) ? "SQL_Latin1_General_CP1_CI_AS" : NULL);
            put_null(c); put_null(c); put_null(c);
            end_row(c);
        }
    }
}

static void sys_columns(cat *c, srv_database *d)
{
    for (size_t i = 0; i < d->ntables; i++) {
        srv_table *t = d->tables[i];
        for (uint16_t k = 0; k < t->ncols; k++) {
            const srv_coldef *cd = &t->cols[k];
            int tid = type_id(cd);
            put_i(c, t->object_id); put_s(c, cd->name); put_i(c, k + 1); put_i(c, tid); put_i(c, tid);
            put_i(c, cd->max_length); put_i(c, cd->col.precision); put_i(c, cd->col.scale);
            put_s(c, is_text(cd) ? "SQL_Latin1_General_CP1_CI_AS" : NULL);
            put_i(c, cd->nullable); put_i(c, 0); put_i(c, 0); put_i(c, 0);
            end_row(c);
        }
    }
}

static void sys_types(cat *c)
{
    static const char *names[] = { "bit", "tinyint", "smallint", "int", "bigint", "real", "float", "smallmoney",
                                   "money", "decimal", "numeric", "smalldatetime", "datetime", "date", "time",
                                   "datetime2", "datetimeoffset", "uniqueidentifier", "char", "varchar", "nchar",
                                   "nvarchar", "binary", "varbinary", "text", "ntext", "image", "xml",
                                   "sql_variant", "sysname", NULL };
    for (int i = 0; names[i]; i++) {
        srv_coldef d;
        memset(&d, 0, sizeof d);
        char spec[32];
        snprintf(spec, sizeof spec, "%s%s", names[i],
                 strstr("char varchar nchar nvarchar binary varbinary", names[i]) && strcmp(names[i], "sysname") ? "(8000)" : "");
        if (!strcmp(names[i], "nchar") || !strcmp(names[i], "nvarchar"))
            snprintf(spec, sizeof spec, "%s(4000)", names[i]);
        srv_type_parse(spec, &d);
        int tid = type_id(&d);
        bool sysname = !strcmp(names[i], "sysname");
        put_s(c, names[i]); put_i(c, tid); put_i(c, sysname ? 256 : tid); put_i(c, 4);
        put_i(c, sysname ? 256 : d.max_length); put_i(c, d.col.precision); put_i(c, d.col.scale);
        put_s(c, is_text(&d) ? "SQL_Latin1_General_CP1_CI_AS" : NULL); put_i(c, !sysname); put_i(c, 0);
        end_row(c);
    }
}

/* INFORMATION_SCHEMA views into c->t. Returns false when name is not one. */
static bool info_schema_view(cat *c, srv_database *d, const char *name)
{
    if (srv_ieq(name, "tables")) {
        c->t = cat_new("INFORMATION_SCHEMA", "TABLES", "TABLE_CATALOG:nvarchar(128)?,TABLE_SCHEMA:nvarchar(128)?,TABLE_NAME:nvarchar(128),TABLE_TYPE:varchar(10)?");
        for (size_t i = 0; c->t && i < d->ntables; i++) {
            put_s(c, d->name); put_s(c, d->tables[i]->schema); put_s(c, d->tables[i]->name); put_s(c, "BASE TABLE");
            end_row(c);
        }
    } else if (srv_ieq(name, "columns")) {
        c->t = cat_new("INFORMATION_SCHEMA", "COLUMNS",
                      "TABLE_CATALOG:nvarchar(128)?,TABLE_SCHEMA:nvarchar(128)?,TABLE_NAME:nvarchar(128),COLUMN_NAME:nvarchar(128)?,"
                      "ORDINAL_POSITION:int?,COLUMN_DEFAULT:nvarchar(4000)?,IS_NULLABLE:varchar(3)?,DATA_TYPE:nvarchar(128)?,"
                      "CHARACTER_MAXIMUM_LENGTH:int?,CHARACTER_OCTET_LENGTH:int?,NUMERIC_PRECISION:tinyint?,"
                      "NUMERIC_PRECISION_RADIX:smallint?,NUMERIC_SCALE:int?,DATETIME_PRECISION:smallint?,"
                      "CHARACTER_SET_CATALOG:nvarchar(128)?,CHARACTER_SET_SCHEMA:nvarchar(128)?,CHARACTER_SET_NAME:nvarchar(128)?,"
                      "COLLATION_CATALOG:nvarchar(128)?,COLLATION_SCHEMA:nvarchar(128)?,COLLATION_NAME:nvarchar(128)?,"
                      "DOMAIN_CATALOG:nvarchar(128)?,DOMAIN_SCHEMA:nvarchar(128)?,DOMAIN_NAME:nvarchar(128)?");
        if (c->t)
            info_columns(c, d);
    } else if (srv_ieq(name, "table_constraints")) {
        c->t = cat_new("INFORMATION_SCHEMA", "TABLE_CONSTRAINTS",
                      "CONSTRAINT_CATALOG:nvarchar(128)?,CONSTRAINT_SCHEMA:nvarchar(128)?,CONSTRAINT_NAME:nvarchar(128),"
                      "TABLE_CATALOG:nvarchar(128)?,TABLE_SCHEMA:nvarchar(128)?,TABLE_NAME:nvarchar(128),"
                      "CONSTRAINT_TYPE:varchar(11)?,IS_DEFERRABLE:varchar(2),INITIALLY_DEFERRED:varchar(2)");
        for (size_t i = 0; c->t && i < d->ntables; i++) {
            srv_table *t = d->tables[i];
            if (!t->npk)
                continue;
            put_s(c, d->name); put_s(c, t->schema); put_s(c, t->pk_name); put_s(c, d->name); put_s(c, t->schema);
            put_s(c, t->name); put_s(c, "PRIMARY KEY"); put_s(c, "NO"); put_s(c, "NO");
            end_row(c);
        }
    } else if (srv_ieq(name, "key_column_usage")) {
        c->t = cat_new("INFORMATION_SCHEMA", "KEY_COLUMN_USAGE",
                      "CONSTRAINT_CATALOG:nvarchar(128)?,CONSTRAINT_SCHEMA:nvarchar(128)?,CONSTRAINT_NAME:nvarchar(128),"
                      "TABLE_CATALOG:nvarchar(128)?,TABLE_SCHEMA:nvarchar(128)?,TABLE_NAME:nvarchar(128),"
                      "COLUMN_NAME:nvarchar(128)?,ORDINAL_POSITION:int");
        for (size_t i = 0; c->t && i < d->ntables; i++) {
            srv_table *t = d->tables[i];
            for (int k = 0; k < t->npk; k++) {
                put_s(c, d->name); put_s(c, t->schema); put_s(c, t->pk_name); put_s(c, d->name); put_s(c, t->schema);
                put_s(c, t->name); put_s(c, t->cols[t->pk[k]].name); put_i(c, k + 1);
                end_row(c);
            }
        }
    } else if (srv_ieq(name, "schemata")) {
        c->t = cat_new("INFORMATION_SCHEMA", "SCHEMATA", "CATALOG_NAME:nvarchar(128)?,SCHEMA_NAME:nvarchar(128),SCHEMA_OWNER:nvarchar(128)?");
        for (size_t i = 0; c->t && i < d->nschemas; i++) {
            put_s(c, d->name); put_s(c, d->schemas[i]); put_s(c, "dbo");
            end_row(c);
        }
    } else {
        return false;
    }
    return true;
}

/* sys views of the current database's objects. Returns false when name
 * is not one of them. */
static bool sys_object_view(cat *c, srv_database *d, const char *name)
{
    if (srv_ieq(name, "tables") || srv_ieq(name, "objects")) {
        c->t = cat_new("sys", name, "name:nvarchar(128),object_id:int,principal_id:int?,schema_id:int,parent_object_id:int,"
                                   "type:char(2)?,type_desc:nvarchar(60)?,is_ms_shipped:bit,is_tracked_by_cdc:bit?");
        for (size_t i = 0; c->t && i < d->ntables; i++) {
            srv_table *t = d->tables[i];
            put_s(c, t->name); put_i(c, t->object_id); put_null(c); put_i(c, srv_schema_id(d, t->schema)); put_i(c, 0);
            put_s(c, "U "); put_s(c, "USER_TABLE"); put_i(c, 0); put_i(c, 0);
            end_row(c);
        }
    } else if (srv_ieq(name, "schemas")) {
        c->t = cat_new("sys", "schemas", "name:nvarchar(128),schema_id:int,principal_id:int?");
        for (size_t i = 0; c->t && i < d->nschemas; i++) {
            put_s(c, d->schemas[i]); put_i(c, srv_schema_id(d, d->schemas[i])); put_i(c, 1);
            end_row(c);
        }
        if (c->t) {
            put_s(c, "INFORMATION_SCHEMA"); put_i(c, 3); put_i(c, 3); end_row(c);
            put_s(c, "sys"); put_i(c, 4); put_i(c, 4); end_row(c);
        }
    } else if (srv_ieq(name, "columns")) {
        c->t = cat_new("sys", "columns", "object_id:int,name:nvarchar(128)?,column_id:int,system_type_id:tinyint,user_type_id:int,"
                                        "max_length:smallint,precision:tinyint,scale:tinyint,collation_name:nvarchar(128)?,"
                                        "is_nullable:bit?,is_identity:bit,is_computed:bit,is_sparse:bit?");
        if (c->t)
            sys_columns(c, d);
    } else if (srv_ieq(name, "types")) {
        c->t = cat_new("sys", "types", "name:nvarchar(128),system_type_id:tinyint,user_type_id:int,schema_id:int,max_length:smallint,"
                                      "precision:tinyint,scale:tinyint,collation_name:nvarchar(128)?,is_nullable:bit?,is_user_defined:bit");
        if (c->t)
            sys_types(c);
    } else if (srv_ieq(name, "indexes") || srv_ieq(name, "key_constraints")) {
        bool kc = srv_ieq(name, "key_constraints");
        c->t = kc ? cat_new("sys", name, "name:nvarchar(128),object_id:int,schema_id:int,parent_object_id:int,type:char(2)?,type_desc:nvarchar(60)?,unique_index_id:int?")
                 : cat_new("sys", name, "object_id:int,name:nvarchar(128)?,index_id:int,type:tinyint,type_desc:nvarchar(60)?,"
                                        "is_unique:bit?,is_primary_key:bit?,is_unique_constraint:bit?,data_space_id:int");
        for (size_t i = 0; c->t && i < d->ntables; i++) {
            srv_table *t = d->tables[i];
            if (kc) {
                if (!t->npk)
                    continue;
                put_s(c, t->pk_name); put_i(c, t->object_id + 1); put_i(c, srv_schema_id(d, t->schema));
                put_i(c, t->object_id); put_s(c, "PK"); put_s(c, "PRIMARY_KEY_CONSTRAINT"); put_i(c, 1);
            } else if (t->npk) {
                put_i(c, t->object_id); put_s(c, t->pk_name); put_i(c, 1); put_i(c, 1); put_s(c, "CLUSTERED");
                put_i(c, 1); put_i(c, 1); put_i(c, 0); put_i(c, srv_partfn_space_id(d, t));
            } else {
                put_i(c, t->object_id); put_null(c); put_i(c, 0); put_i(c, 0); put_s(c, "HEAP");
                put_i(c, 0); put_i(c, 0); put_i(c, 0); put_i(c, srv_partfn_space_id(d, t));
            }
            end_row(c);
        }
    } else if (srv_ieq(name, "index_columns")) {
        c->t = cat_new("sys", "index_columns", "object_id:int,index_id:int,index_column_id:int,column_id:int,key_ordinal:tinyint,"
                                              "partition_ordinal:tinyint,is_descending_key:bit?,is_included_column:bit?");
        for (size_t i = 0; c->t && i < d->ntables; i++) {
            srv_table *t = d->tables[i];
            for (int k = 0; k < t->npk; k++) {
                put_i(c, t->object_id); put_i(c, 1); put_i(c, k + 1); put_i(c, t->pk[k] + 1); put_i(c, k + 1);
                put_i(c, srv_partfn_ordinal(t, t->pk[k])); put_i(c, 0); put_i(c, 0);
                end_row(c);
            }
            int pc = srv_partfn_extra_column(t); /* partitioned on a non-key column (or a heap) */
            if (pc >= 0) {
                put_i(c, t->object_id); put_i(c, t->npk ? 1 : 0); put_i(c, t->npk + 1); put_i(c, pc + 1);
                put_i(c, 0); put_i(c, 1); put_i(c, 0); put_i(c, 0);
                end_row(c);
            }
        }
    } else {
        return false;
    }
    return true;
}

static uint64_t live_rows(const srv_table *t) { return t->generated ? t->gen_rows : t->nrows; }

/* sys.partitions and sys.dm_db_partition_stats: the row counts a client
 * reads for a cheap estimate (SQL Server keeps them without a scan). One
 * partition per table, of its heap (index_id 0) or clustered key (1).
 * Returns false when name is neither. */
static bool sys_partition_view(cat *c, srv_database *d, const char *name)
{
    bool dmv = srv_ieq(name, "dm_db_partition_stats");
    if (!dmv && !srv_ieq(name, "partitions"))
        return false;
    c->t = dmv ? cat_new("sys", name, "partition_id:bigint,object_id:int,index_id:int,partition_number:int,"
                                      "in_row_data_page_count:bigint,used_page_count:bigint,reserved_page_count:bigint,"
                                      "row_count:bigint")
               : cat_new("sys", name, "partition_id:bigint,object_id:int,index_id:int,partition_number:int,"
                                      "hobt_id:bigint,rows:bigint?,data_compression:tinyint,data_compression_desc:nvarchar(60)?");
    for (size_t i = 0; c->t && i < d->ntables; i++) {
        srv_table *t = d->tables[i];
        int64_t id = (int64_t)t->object_id * 65536 + (t->npk ? 1 : 0);
        put_i(c, id); put_i(c, t->object_id); put_i(c, t->npk ? 1 : 0); put_i(c, 1);
        if (dmv) {
            int64_t pages = (int64_t)(live_rows(t) / 100 + 1);
            put_i(c, pages); put_i(c, pages + 1); put_i(c, pages + 1); put_i(c, (int64_t)live_rows(t));
        } else {
            put_i(c, id); put_i(c, (int64_t)live_rows(t)); put_i(c, 0); put_s(c, "NONE");
        }
        end_row(c);
    }
    return true;
}

/* sys views across databases (sys.databases, Change Tracking). Returns
 * false when name is not one of them. */
static bool sys_server_view(cat *c, srv_db *db, srv_database *d, const char *name)
{
    if (srv_ieq(name, "databases")) {
        c->t = cat_new("sys", "databases", "name:nvarchar(128),database_id:int,compatibility_level:tinyint,collation_name:nvarchar(128)?,"
                                          "state:tinyint?,state_desc:nvarchar(60)?,snapshot_isolation_state:tinyint?,"
                                          "snapshot_isolation_state_desc:nvarchar(60)?,is_read_committed_snapshot_on:bit?");
        for (size_t i = 0; c->t && i < db->ndbs; i++) {
            srv_database *x = db->dbs[i];
            put_s(c, x->name); put_i(c, x->id); put_i(c, 160); put_s(c, "SQL_Latin1_General_CP1_CI_AS");
            put_i(c, 0); put_s(c, "ONLINE"); put_i(c, x->snapshot_isolation); put_s(c, x->snapshot_isolation ? "ON" : "OFF");
            put_i(c, x->rcsi);
            end_row(c);
        }
    } else if (srv_ieq(name, "change_tracking_databases")) {
        c->t = cat_new("sys", name, "database_id:int,is_auto_cleanup_on:tinyint?,retention_period:int?,retention_period_units:tinyint?,"
                                   "retention_period_units_desc:nvarchar(60)?,max_cleanup_version:bigint?");
        for (size_t i = 0; c->t && i < db->ndbs; i++) {
            srv_database *x = db->dbs[i];
            if (!x->ct_enabled)
                continue;
            put_i(c, x->id); put_i(c, x->ct_auto_cleanup); put_i(c, x->ct_retention); put_i(c, 3); put_s(c, "DAYS");
            put_null(c);
            end_row(c);
        }
    } else if (srv_ieq(name, "change_tracking_tables")) {
        c->t = cat_new("sys", name, "object_id:int,is_track_columns_updated_on:bit,min_valid_version:bigint?,begin_version:bigint?,"
                                   "cleanup_version:bigint?");
        for (size_t i = 0; c->t && i < d->ntables; i++) {
            srv_table *t = d->tables[i];
            if (!t->ct_enabled)
                continue;
            put_i(c, t->object_id); put_i(c, t->ct_track_columns); put_i(c, ct_min_valid(t));
            put_i(c, (int64_t)t->ct_begin_version); put_i(c, (int64_t)d->ct_min_valid);
            end_row(c);
        }
    } else {
        return false;
    }
    return true;
}

srv_table *catalog_table(srv_conn *conn, srv_database *d, const char *schema, const char *name)
{
    cat c;
    memset(&c, 0, sizeof c);
    bool found = srv_ieq(schema, "information_schema")
                     ? info_schema_view(&c, d, name)
                     : sys_object_view(&c, d, name) || sys_partition_view(&c, d, name) ||
                           sys_server_view(&c, conn->db, d, name) || (c.t = srv_partfn_view(d, name)) != NULL;
    return found ? c.t : NULL;
}
