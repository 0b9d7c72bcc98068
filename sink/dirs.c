/*
 * dirs.c — a destination file's missing parent directories: made top down
 * before a load (ingestr's os.MkdirAll, for csv://, jsonl:// and
 * parquet://) and removed again, deepest first and only while empty, when
 * the load fails, so a failed load leaves the file system as it found it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink_int.h"

/* "a/b//c" → "a/b": the path less its last component and the slashes
 * before it; false when nothing is left (a bare name or "/x"). */
static bool strip_last(char *p)
{
    char *slash = strrchr(p, '/');
    if (!slash)
        return false;
    while (slash > p && slash[-1] == '/')
        slash--;
    if (slash == p)
        return false;
    *slash = '\0';
    return true;
}

/* dir made unless it is there; *top marks the first one made (its length). */
static int make_one(const char *path, const char *dir, size_t len, size_t *top, char *err, size_t errcap)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? SINK_OK
                                   : sink__errf(err, errcap, SINK_E_IO, "cannot create %s: %s is not a directory",
                                                path, dir);
    if (errno != ENOENT)
        return sink__errf(err, errcap, SINK_E_IO, "cannot create %s: %s: %s", path, dir, strerror(errno));
    if (mkdir(dir, 0777) == 0) {
        if (!*top)
            *top = len;
        return SINK_OK;
    }
    if (errno == EEXIST) /* made by someone else meanwhile */
        return SINK_OK;
    return sink__errf(err, errcap, SINK_E_IO, "cannot create %s: directory %s: %s", path, dir, strerror(errno));
}

int sink__make_dirs(const char *path, char **made, size_t *top, char *err, size_t errcap)
{
    *made = NULL;
    *top = 0;
    char *dir = sink__strdup(path);
    if (!dir)
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    int rc = SINK_OK;
    if (strip_last(dir))
        for (char *p = dir + 1; !rc; p++) { /* each prefix ending before a '/' */
            if (*p && (*p != '/' || p[-1] == '/'))
                continue;
            char c = *p;
            *p = '\0';
            rc = make_one(path, dir, (size_t)(p - dir), top, err, errcap);
            *p = c;
            if (!c)
                break;
        }
    if (!*top) {
        free(dir);
        return rc;
    }
    *made = dir;
    if (rc) { /* the ones made so far go again */
        sink__remove_dirs(dir, *top);
        *made = NULL;
        *top = 0;
    }
    return rc;
}

void sink__remove_dirs(char *made, size_t top)
{
    if (!made)
        return;
    do { /* deepest first, while empty */
        if (rmdir(made) && errno != ENOENT)
            break;
    } while (strlen(made) > top && strip_last(made));
    free(made);
}
