/*
 * registry.c — the sources tdspipe_load() can read, found by URI.
 *
 * Adding a source: write pipe/src_NAME.c exporting
 * `const pipe_source_vtable pipe_src_NAME` (pipe_int.h), add it below.
 */
#include <stdio.h>
#include <stddef.h>

#include "pipe_int.h"

static const pipe_source_vtable *const registry[] = {
    &pipe_src_mssql,
    &pipe_src_ct,
    &pipe_src_cdc,
    &pipe_src_csv,
    &pipe_src_jsonl,
    NULL,
};

const pipe_source_vtable *const *pipe_source_registry(void) { return registry; }

const pipe_source_vtable *pipe_source_find(const char *uri)
{
    for (size_t i = 0; uri && registry[i]; i++)
        if (registry[i]->accepts(uri))
            return registry[i];
    return NULL;
}
