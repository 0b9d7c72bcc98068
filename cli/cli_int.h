/*
 * cli_int.h — what the files of the `tdspipe` command share: parsed flags
 * (flags.c), the load through tdspipe_load() (ingest.c), progress
 * (progress.c) and secret scrubbing (secrets.c). URIs, sources and the
 * load engine are the library's (pipe/pipe.h).
 *
 * Exit codes (the ingestr contract): CLI_EXIT_OK 0, CLI_EXIT_LOAD 1 (a load
 * that failed: the destination is left as it was), CLI_EXIT_USAGE 2 (bad
 * flags, values or URIs; one line on stderr). Messages never hold a
 * password or an access token.
 */
#ifndef TDSPIPE_CLI_INT_H
#define TDSPIPE_CLI_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "net.h"
#include "pipe.h"
#include "pipe_int.h" /* pipe_list */
#include "sink.h"
#include "tds.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_LOAD = 1, CLI_EXIT_USAGE = 2 };

typedef enum cli_progress_mode { CLI_PROGRESS_INTERACTIVE = 0, CLI_PROGRESS_LOG, CLI_PROGRESS_JSON } cli_progress_mode;
typedef enum cli_naming { CLI_NAMING_AUTO = 0, CLI_NAMING_DIRECT, CLI_NAMING_SNAKE } cli_naming;

/* A list of strings owned by the list (repeatable flags): pipe's list,
 * so the options hand it to the load as is. */
typedef pipe_list cli_list;

/* pipe_list_add. */
int cli_list_add(cli_list *l, const char *s, size_t len);
/* Adds each comma-separated, trimmed, non-empty item of s. */
int cli_list_add_csv(cli_list *l, const char *s);
void cli_list_free(cli_list *l);

/* Everything `ingest` accepts. Strings are owned (copies). */
typedef struct cli_opts {
    char *source_uri, *dest_uri, *source_table, *dest_table;
    sink_strategy strategy;
    bool strategy_given;
    char *incremental_key, *interval_start, *interval_end;
    cli_list primary_keys, exclude, columns;
    bool full_refresh;
    int64_t sql_limit;            /* -1: none */
    size_t page_size;             /* rows per sink batch */
    unsigned parallelism;         /* --extract-parallelism (default 5) */
    char *extract_partition_by;   /* --extract-partition-by */
    char *extract_partition_interval; /* --extract-partition-interval (checked) */
    int64_t extract_split_rows;   /* --extract-split-rows; 0 default, -1 never */
    unsigned slice_index, slice_count; /* --partition-index / --partition-count */
    bool slice_index_given;       /* else JOB_COMPLETION_INDEX */
    char *run_id;                 /* --run-id */
    char *finalize;               /* --finalize RUN_ID */
    int64_t query_timeout_s;      /* -1: as the URI says (default none) */
    int retries;                  /* transient-fault retries; -1: the URI's, else 3 */
    cli_progress_mode progress;
    cli_naming naming;
    bool no_load_timestamp;
    bool ct_resnapshot;           /* --ct-expired=resnapshot */
    bool cdc_resnapshot;          /* --cdc-expired=resnapshot */
    bool yes;
    bool help;
    tdspipe_contract schema_contract; /* --schema-contract (evolve) */
    bool trim_whitespace;
    cli_list masks;               /* --mask column:algorithm[:param], checked */
    char *incremental_predicate;  /* --incremental-predicate SQL (merge only) */
    bool stream;                  /* --stream (+ct/+cdc sources) */
    uint32_t flush_interval_ms;   /* --flush-interval; 0: default (30 s) */
    uint64_t flush_records;       /* --flush-records; 0: default (50000) */
    char *metrics_addr;           /* --metrics-addr HOST:PORT */
    cli_list notes;               /* one line each for stderr: flags accepted
                                     with no effect (as ingestr v1 does) */
} cli_opts;

/* flags.c: parses argv[first..argc) of `ingest` and the environment
 * (X, then INGESTR_X; the command line wins). Returns 0, or CLI_EXIT_USAGE
 * with a one-line reason in err. */
int cli_flags_parse(cli_opts *o, int argc, char **argv, int first, char *err, size_t errcap);
void cli_opts_free(cli_opts *o);
void cli_flags_help(FILE *f);

/* secrets.c: overwrites the password/token of every URI in argv (and in
 * SOURCE_URI/DEST_URI environment strings) with '*', in place. Call after
 * the URIs were copied. */
void cli_secrets_scrub_argv(int argc, char **argv);
/* Overwrites the password part of one URI string in place. */
void cli_secrets_scrub_uri(char *uri);
/* Replaces, in place, any occurrence of secret in msg by "***". */
void cli_secrets_redact(char *msg, const char *secret);
/* Remembers a secret (borrowed pointer, NULL ignored) that cli_err() must
 * never print; _uri takes the password out of a URI (a wiped copy). */
void cli_secrets_register(const char *secret);
void cli_secrets_register_uri(const char *uri);
/* Redacts every registered secret from msg. */
void cli_secrets_redact_all(char *msg);
/* Forgets (and wipes the copies of) the registered secrets. */
void cli_secrets_forget(void);

/* progress.c */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_new(cli_progress_mode mode, const char *table, int64_t known_rows);
void cli_progress_rows(cli_progress *p, size_t rows, size_t bytes);
void cli_progress_phase(cli_progress *p, const char *phase);
/* A parallel read's window counts, and (w->window set) one window that
 * started or finished: json {"event":"window",…}, log a line per
 * finished window. NULL p is fine. */
void cli_progress_window(cli_progress *p, const tdspipe_progress *w);
/* Final line (ok or failed) and free. NULL is fine. */
void cli_progress_end(cli_progress *p, bool ok);
/* Monotonic seconds. */
double cli_now(void);
/* --stream: one line per poll (log: text, json: {"event":"stream",…};
 * interactive: nothing) with rows, polls and the lag. */
void cli_progress_stream(cli_progress_mode mode, const tdspipe_progress *p);

/* ingest.c: the load of o through tdspipe_load(), cancelled once *cancel
 * becomes non-zero (main's SIGINT/SIGTERM handler). Returns the exit code. */
int cli_ingest(const cli_opts *o, const volatile sig_atomic_t *cancel);

/* main.c: writes "tdspipe: <msg>" as one line to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* TDSPIPE_CLI_INT_H */
