/*
 * JSON text for audit details: appending a string as a quoted, escaped JSON
 * string to a fixed buffer, truncating safely when it does not fit.
 */
#include <stdio.h>
#include <string.h>

#include "util.h"

void lfr__json_append_str(char *buf, size_t cap, const char *s)
{
    size_t n = strnlen(buf, cap);
    /* Room for the closing quote and the NUL is kept back throughout. */
    if (cap < 3 || n + 3 > cap) return;
    buf[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        size_t k;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            k = 2;
        } else if (*p < 0x20) {
            k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
        } else {
            esc[0] = (char)*p;
            k = 1;
        }
        if (n + k + 2 > cap) break;
        memcpy(buf + n, esc, k);
        n += k;
    }
    buf[n++] = '"';
    buf[n] = 0;
}
