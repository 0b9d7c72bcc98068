/*
 * version.c — tdspipe_version(): the version compiled into the library,
 * so a program can tell which libtdspipe it runs with (the macros in
 * tdspipe_version.h say which headers it was compiled with).
 */
#include "tdspipe.h"

const char *tdspipe_version(void)
{
    return TDSPIPE_VERSION_STRING;
}
