/*
 * cdc_int.h — private structs of the CDC emulation (exec_cdc*.c): the
 * database's log of committed-but-uncaptured transactions, its capture
 * instances, and a connection's uncommitted changes.
 *
 * Log positions are 64-bit counters per database; an LSN is the 80-bit
 * big-endian number (0x2A << 48) + position * 16, so LSNs compare with
 * memcmp, sys.fn_cdc_increment_lsn gives a value between two positions
 * (as on a real server, where it rarely names a log record), and the
 * position of an LSN is recovered by cdc_lsn_pos.
 */
#ifndef TDSTESTD_CDC_INT_H
#define TDSTESTD_CDC_INT_H

#include "cdc.h"

#define CDC_LSN_LEN 10
#define CDC_INSTANCE_MAX 100   /* capture_instance cannot exceed 100 characters */
#define CDC_MAX_INSTANCES 2    /* per source table */

typedef struct cdc_change {     /* one row change */
    srv_table *t;               /* referenced */
    int op;                     /* CDC_OP_DELETE, _INSERT, _UPDATE_NEW (an update: both images) */
    uint8_t *img[2];            /* old and new row images (NULL when none), copied
                                   at the change: ALTER TABLE may rebuild t's heap */
    uint16_t ncols;             /* columns of the images */
    uint64_t seq;               /* log position: __$seqval */
    uint32_t command_id;        /* order of the change in its transaction */
} cdc_change;

typedef struct cdc_tx {         /* a connection's uncommitted changes */
    cdc_change *ch;
    size_t n, cap;
    int64_t begin_us;           /* first change, µs since 1970 */
} cdc_tx;

typedef struct cdc_commit {     /* a committed transaction, not yet captured */
    cdc_change *ch;
    size_t n;
    uint64_t pos;               /* commit position: __$start_lsn */
    int64_t begin_us, end_us;   /* tran_begin_time, tran_end_time */
    uint64_t tran_id;
} cdc_commit;

typedef struct cdc_inst {       /* a capture instance */
    char name[CDC_INSTANCE_MAX + 1];
    srv_table *src;             /* referenced */
    srv_table *ct;              /* cdc.<name>_CT (also in the database) */
    int *cols;                  /* captured source column indexes, source order */
    int ncols;
    int key[SRV_MAX_PK];        /* source columns of the row identifier */
    int nkey;
    char index_name[SRV_NAME_MAX];
    char role[SRV_NAME_MAX];    /* "" = NULL */
    bool net;                   /* supports_net_changes */
    uint64_t enable_pos;        /* changes committed after this are captured */
    uint64_t start_pos;         /* low water mark (cdc.change_tables.start_lsn) */
    bool start_set;
    int64_t create_us;
    int32_t object_id;          /* the change table's object_id */
} cdc_inst;

typedef struct srv_cdc_db {
    bool enabled;
    bool immediate;             /* capture at commit */
    int64_t retention_min;      /* the cleanup job's retention (sp_cdc_help_jobs), minutes */
    uint64_t pos;               /* last log position used */
    cdc_inst **inst;
    size_t ninst;
    cdc_commit *log;            /* committed, not captured */
    size_t nlog, caplog;
    srv_table *ltm;             /* cdc.lsn_time_mapping */
    uint64_t next_tran;
} srv_cdc_db;

/* exec_cdc.c */
/* Releases a change (its images, its table reference). */
void cdc_change_free(cdc_change *ch);
void cdc_lsn(uint64_t pos, uint8_t out[CDC_LSN_LEN]);
/* The position of an LSN: the largest position whose LSN is <= lsn. */
uint64_t cdc_lsn_pos(const uint8_t lsn[CDC_LSN_LEN]);
/* Runs one capture scan: every committed transaction so far. */
int cdc_scan(srv_database *d);
srv_cdc_db *cdc_db_get(srv_database *d, bool create);
cdc_inst *cdc_inst_find(const srv_cdc_db *x, const char *name);
/* Highest captured commit position (0 = none). */
uint64_t cdc_max_pos(const srv_cdc_db *x);
int64_t cdc_now_us(void);
/* µs since 1970 as an SV_DT value (datetime, local time like GETDATE). */
srv_val cdc_time_val(int64_t us);

/* exec_cdc_proc.c: CDC on for d (schema cdc, cdc.lsn_time_mapping); 0 or
 * -1 out of memory. Off: every instance and cdc table dropped. */
int cdc_enable_db(srv_db *db, srv_database *d);
void cdc_disable_db(srv_database *d);

/* exec_cdc_setup.c */
/* sys.sp_cdc_enable_table's checks and effect (inst NULL: schema_name;
 * net -1: default; cols NULL: all). 0, or -1 with the SQL error number in
 * *err and its text in msg. */
int cdc_enable_table(srv_conn *c, srv_database *d, const char *schema, const char *name, const char *inst,
                     const char *role, int net, const char *index, const char *cols, int32_t *err, char *msg,
                     size_t cap);
/* Removes a capture instance and its change table. */
void cdc_inst_drop(srv_database *d, cdc_inst *ci);

/* A coldef from a type text, named, nullable or not. */
void cdc_coldef(srv_coldef *d, const char *name, const char *type, bool nullable);

/* exec_cdc_view.c */
/* sys.sp_cdc_help_change_data_capture's result: every instance, or those
 * of schema.name when schema is not empty. */
srv_table *cdc_help_table(const srv_cdc_db *x, const char *schema, const char *name);

#endif
