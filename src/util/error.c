/*
 * Status strings and the per-thread detail message behind lfr_errmsg().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static _Thread_local char errbuf[1024];

const char *lfr_strerror(int status)
{
    switch (status) {
    case LFR_OK:
        return "ok";
    case LFR_ERR_NOMEM:
        return "out of memory";
    case LFR_ERR_INVALID:
        return "invalid argument";
    case LFR_ERR_IO:
        return "input/output error";
    case LFR_ERR_FORMAT:
        return "malformed input";
    case LFR_ERR_UNSUPPORTED:
        return "unsupported input";
    case LFR_ERR_TOO_LARGE:
        return "input too large";
    case LFR_ERR_BACKEND:
        return "inference backend failure";
    case LFR_ERR_NO_FACE:
        return "no face found";
    case LFR_ERR_DENIED:
        return "permission denied";
    case LFR_ERR_AUTH:
        return "authentication failed";
    case LFR_ERR_CONFLICT:
        return "conflict";
    case LFR_ERR_NOT_FOUND:
        return "not found";
    case LFR_ERR_TAMPERED:
        return "audit chain does not verify";
    case LFR_ERR_STORE:
        return "database error";
    case LFR_ERR_EOF:
        return "end of stream";
    }
    return "unknown status";
}

const char *lfr_errmsg(void)
{
    return errbuf[0] ? errbuf : "no error";
}

int lfr__err(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return status;
}

int lfr__err_prefix(int status, const char *prefix)
{
    char tmp[sizeof errbuf];
    size_t n = strlen(prefix);
    if (n > sizeof tmp / 2) n = sizeof tmp / 2;
    memcpy(tmp, prefix, n);
    tmp[n] = ':';
    tmp[n + 1] = ' ';
    size_t rest = strnlen(errbuf, sizeof errbuf);
    if (rest > sizeof tmp - n - 3) rest = sizeof tmp - n - 3;
    memcpy(tmp + n + 2, errbuf, rest);
    tmp[n + 2 + rest] = 0;
    memcpy(errbuf, tmp, sizeof errbuf);
    return status;
}
