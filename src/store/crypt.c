/*
 * Encryption at rest. The home's key file (32 random bytes, mode 0600) is
 * read once at open into guarded memory (sodium_malloc: no swap, wiped on
 * free) and used with XChaCha20-Poly1305 to seal images, templates and
 * alert crops before they touch the disk. A sealed blob is
 *
 *     "LFRS" | version 1 (1 byte) | nonce (24 bytes) | ciphertext | tag (16)
 *
 * with a random nonce per blob, and associated data naming what the blob
 * is (for example "image:17:jpeg"), so that a blob moved to another record
 * fails to open rather than decrypting as the wrong thing. The key never
 * appears in any message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store.h"
#include "util/util.h"

static const uint8_t magic[4] = {'L', 'F', 'R', 'S'};
#define VERSION 1
#define HEADER (sizeof magic + 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

int lfr__key_load(const char *path, uint8_t **key_out)
{
    *key_out = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return lfr__err(LFR_ERR_IO, "%s: cannot open key: %s", path, strerror(errno));
    struct stat st;
    int rc = LFR_OK;
    if (fstat(fd, &st))
        rc = lfr__err(LFR_ERR_IO, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = lfr__err(LFR_ERR_FORMAT, "%s: key is not a regular file", path);
    else if (st.st_mode & 077)
        rc = lfr__err(LFR_ERR_DENIED, "%s: key file is readable by others (mode %03o; want 600)",
                      path, (unsigned)(st.st_mode & 0777));
    else if (st.st_size != LFR__KEY_BYTES)
        rc = lfr__err(LFR_ERR_FORMAT, "%s: key file is not %d bytes", path, LFR__KEY_BYTES);
    uint8_t *key = NULL;
    if (!rc && !(key = sodium_malloc(LFR__KEY_BYTES)))
        rc = lfr__err(LFR_ERR_NOMEM, "out of memory for the key");
    size_t got = 0;
    while (!rc && got < LFR__KEY_BYTES) {
        ssize_t r = read(fd, key + got, LFR__KEY_BYTES - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            rc = lfr__err(LFR_ERR_IO, "%s: short read", path);
        else
            got += (size_t)r;
    }
    close(fd);
    if (rc) {
        sodium_free(key);
        return rc;
    }
    *key_out = key;
    return LFR_OK;
}

void lfr__key_free(uint8_t *key)
{
    if (key) sodium_free(key);
}

size_t lfr__sealed_size(size_t plain_size)
{
    return HEADER + plain_size + TAG;
}

int lfr__seal(const uint8_t *key, const void *plain, size_t n, const char *ad, uint8_t **out,
              size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    if (n > SIZE_MAX - HEADER - TAG) return lfr__err(LFR_ERR_TOO_LARGE, "blob too large to seal");
    size_t total = lfr__sealed_size(n);
    uint8_t *b = malloc(total);
    if (!b) return lfr__err(LFR_ERR_NOMEM, "out of memory sealing %zu bytes", n);
    memcpy(b, magic, sizeof magic);
    b[sizeof magic] = VERSION;
    uint8_t *nonce = b + sizeof magic + 1;
    randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(b + HEADER, &clen, plain, n, (const uint8_t *)ad,
                                               strlen(ad), NULL, nonce, key);
    *out = b;
    *out_n = HEADER + (size_t)clen;
    return LFR_OK;
}

int lfr__unseal(const uint8_t *key, const uint8_t *sealed, size_t n, const char *ad, uint8_t **out,
                size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    if (n < HEADER + TAG || memcmp(sealed, magic, sizeof magic))
        return lfr__err(LFR_ERR_FORMAT, "%s: not a sealed blob", ad);
    if (sealed[sizeof magic] != VERSION)
        return lfr__err(LFR_ERR_UNSUPPORTED, "%s: sealed blob version %d", ad,
                        sealed[sizeof magic]);
    size_t plain_n = n - HEADER - TAG;
    /* One spare byte, so that an empty plaintext still gets a buffer. */
    uint8_t *p = malloc(plain_n + 1);
    if (!p) return lfr__err(LFR_ERR_NOMEM, "out of memory opening %zu bytes", n);
    unsigned long long plen;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, &plen, NULL, sealed + HEADER, n - HEADER,
                                                   (const uint8_t *)ad, strlen(ad),
                                                   sealed + sizeof magic + 1, key)) {
        free(p);
        return lfr__err(LFR_ERR_TAMPERED,
                        "%s: sealed blob does not open (altered, or not this record's)", ad);
    }
    *out = p;
    *out_n = (size_t)plen;
    return LFR_OK;
}
