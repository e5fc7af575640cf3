/*
 * Text for the records: checking that bytes are well-formed UTF-8 (what the
 * audit log and signed notes accept), and appending a string as a quoted,
 * escaped JSON string to a fixed buffer, truncating safely when it does not
 * fit.
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

int lfr__utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        size_t k;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3, min = 0x10000;
        } else {
            return 0;
        }
        if ((size_t)(end - p) <= k) return 0;
        unsigned v = c & (0x3fu >> k);
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xc0) != 0x80) return 0;
            v = v << 6 | (p[i] & 0x3fu);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        if (v < min || (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff) return 0;
        p += k + 1;
    }
    return 1;
}
