/*
 * The audit and witness subcommands: verify, list, checkpoint, prove,
 * reanchor; and witness init, cosign, show. Thin: each parses its options,
 * calls lfr/log.h or lfr/store.h, and prints. Verification, checkpoints and
 * proofs open the home read-only and need no user and no media key: an
 * auditor runs them on a copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "lfr/lfr.h"

#define fail lfr_cli_fail
#define usage_error lfr_cli_usage_error

#define MAX_KEYS 16
#define FILE_MAX (8 << 20) /* proofs, checkpoints, requests: small text */

const char lfr_cli_audit_usage[] =
    "  audit verify [--checkpoint FILE [--witness-key K]... [--require-witness N]]\n"
    "               [--key K]... [--time-tolerance SECONDS]\n"
    "                                 check the whole log read-only (no user, no media\n"
    "                                 key): the chain, entry times, the signed head,\n"
    "                                 audit.head, published checkpoints, the records;\n"
    "                                 with --checkpoint, that the log extends an earlier\n"
    "                                 checkpoint, cosigned by N of the witness keys. K is\n"
    "                                 a verifier key or a file holding one (default:\n"
    "                                 the home's log.pub)\n"
    "  audit list --user NAME [--actor A] [--action X] [--object O] [--from T] [--to T]\n"
    "                                 audit entries; T is 2026-11-24 or\n"
    "                                 2026-11-24T09:30:00Z (UTC), both ends inclusive\n"
    "  audit checkpoint [--out FILE] [--old N] [--key]\n"
    "                                 the latest signed checkpoint (a signed note); with\n"
    "                                 --old N a request for a witness that last cosigned\n"
    "                                 N entries; --key prints the log's verifier key\n"
    "  audit prove ENTRY [--out FILE] an inclusion proof of entry ENTRY in the latest\n"
    "                                 checkpoint (c2sp.org/tlog-proof@v1), which\n"
    "                                 scripts/audit-verify.py --proof checks\n"
    "  audit reanchor --user ADMIN --reason TEXT\n"
    "                                 after writes stopped (audit.head lost, entries\n"
    "                                 added without the log key): sign the log again,\n"
    "                                 recording what was found\n"
    "  witness init --name NAME --log-key K [--dir DIR]\n"
    "  witness cosign REQUEST [--dir DIR] [--out FILE]\n"
    "  witness show [--dir DIR]       a witness (default DIR $LFR_WITNESS, else\n"
    "                                 ./lfr-witness): cosigns a request from `audit\n"
    "                                 checkpoint --old N` only when the checkpoint\n"
    "                                 extends the last one it cosigned\n";

/* ---- Options --------------------------------------------------------------------- */

typedef struct aopts {
    const char *home, *user, *out, *reason, *checkpoint, *old, *tolerance, *require, *dir, *name,
        *log_key;
    const char *keys[MAX_KEYS], *witness_keys[MAX_KEYS];
    int n_keys, n_witness_keys;
    int print_key;
    const char *actor, *action, *object, *from, *to;
    const char *pos[2];
    int n_pos;
} aopts;

static int parse(int argc, char **argv, const char *allowed, int max_pos, aopts *o)
{
    memset(o, 0, sizeof *o);
    static const struct {
        const char *name;
        size_t off;
    } table[] = {
        {"--home", offsetof(aopts, home)},
        {"--user", offsetof(aopts, user)},
        {"--out", offsetof(aopts, out)},
        {"--reason", offsetof(aopts, reason)},
        {"--checkpoint", offsetof(aopts, checkpoint)},
        {"--old", offsetof(aopts, old)},
        {"--time-tolerance", offsetof(aopts, tolerance)},
        {"--require-witness", offsetof(aopts, require)},
        {"--dir", offsetof(aopts, dir)},
        {"--name", offsetof(aopts, name)},
        {"--log-key", offsetof(aopts, log_key)},
        {"--actor", offsetof(aopts, actor)},
        {"--action", offsetof(aopts, action)},
        {"--object", offsetof(aopts, object)},
        {"--from", offsetof(aopts, from)},
        {"--to", offsetof(aopts, to)},
    };
    char list[256];
    snprintf(list, sizeof list, " --home %s ", allowed);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            if (o->n_pos >= max_pos) return usage_error("unexpected argument '%s'", a);
            o->pos[o->n_pos++] = a;
            continue;
        }
        char word[40];
        snprintf(word, sizeof word, " %s ", a);
        if (!strstr(list, word)) return usage_error("unknown option '%s'", a);
        if (!strcmp(a, "--key") && strstr(allowed, "--key!")) {
            o->print_key = 1;
            continue;
        }
        if (i + 1 >= argc) return usage_error("%s needs a value", a);
        if (!strcmp(a, "--key") || !strcmp(a, "--witness-key")) {
            int *n = a[2] == 'k' ? &o->n_keys : &o->n_witness_keys;
            const char **v = a[2] == 'k' ? o->keys : o->witness_keys;
            if (*n == MAX_KEYS) return usage_error("at most %d %s options", MAX_KEYS, a);
            v[(*n)++] = argv[++i];
            continue;
        }
        size_t k = 0, n = sizeof table / sizeof table[0];
        while (k < n && strcmp(a, table[k].name))
            k++;
        if (k == n) return usage_error("unknown option '%s'", a);
        *(const char **)((char *)o + table[k].off) = argv[++i];
    }
    if (!o->home) o->home = getenv("LFR_HOME");
    if (!o->home || !*o->home) o->home = "lfr-data";
    if (!o->dir) o->dir = getenv("LFR_WITNESS");
    if (!o->dir || !*o->dir) o->dir = "lfr-witness";
    return 0;
}

static int lib_fail(void)
{
    return fail("%s", lfr_errmsg());
}

static int parse_u64(const char *s, const char *what, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *end || errno) return usage_error("%s: not a number: '%s'", what, s);
    *out = v;
    return 0;
}

/* ---- Files --------------------------------------------------------------------------- */

/* A whole text file ("-" for stdin), NUL-terminated. */
static int read_text(const char *path, char **out, size_t *n_out)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) return fail("%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 == cap) {
            if (cap > FILE_MAX) {
                free(buf);
                if (f != stdin) fclose(f);
                return fail("%s: larger than %d bytes", path, FILE_MAX);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    if (f != stdin) fclose(f);
    if (!buf) return fail("out of memory");
    if (err) {
        free(buf);
        return fail("%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    *n_out = n;
    return 0;
}

/* A key given as its text, or as the name of a file holding it (first line). */
static int key_text(const char *arg, char out[256])
{
    if (strchr(arg, '+') && access(arg, F_OK)) {
        snprintf(out, 256, "%s", arg);
        return 0;
    }
    char *t;
    size_t n;
    if (read_text(arg, &t, &n)) return 1;
    size_t len = strcspn(t, "\r\n");
    if (len >= 256) {
        free(t);
        return fail("%s: not a verifier key", arg);
    }
    memcpy(out, t, len);
    out[len] = 0;
    free(t);
    return 0;
}

/* Write text to FILE (created or replaced, not through a symbolic link), or
 * to stdout when FILE is NULL. */
static int write_text(const char *path, const char *text, size_t n)
{
    if (!path) return fwrite(text, 1, n, stdout) == n ? 0 : fail("stdout: write failed");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return fail("%s: %s", path, strerror(errno));
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            close(fd);
            return fail("%s: write failed: %s", path, strerror(errno));
        }
        done += (size_t)w;
    }
    if (close(fd)) return fail("%s: close failed: %s", path, strerror(errno));
    return 0;
}

/* ---- audit ------------------------------------------------------------------------------ */

static int print_entry(const lfr_audit_entry *e, void *ctx)
{
    (void)ctx;
    printf("%llu\t%s\t%s\t%s\t%s\t%s\n", (unsigned long long)e->seq, e->time, e->actor, e->action,
           e->object, e->detail);
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    aopts o;
    int rc = parse(argc, argv,
                   "--checkpoint --key --witness-key --require-witness --time-tolerance", 0, &o);
    if (rc) return rc;
    lfr_audit_verify_config c = lfr_audit_verify_config_default();
    char keys[MAX_KEYS][256], wkeys[MAX_KEYS][256];
    const char *kp[MAX_KEYS], *wp[MAX_KEYS];
    for (int i = 0; i < o.n_keys; i++) {
        if (key_text(o.keys[i], keys[i])) return 1;
        kp[i] = keys[i];
    }
    for (int i = 0; i < o.n_witness_keys; i++) {
        if (key_text(o.witness_keys[i], wkeys[i])) return 1;
        wp[i] = wkeys[i];
    }
    c.keys = kp;
    c.n_keys = o.n_keys;
    c.witness_keys = wp;
    c.n_witness_keys = o.n_witness_keys;
    uint64_t v64;
    if (o.require) {
        if ((rc = parse_u64(o.require, "--require-witness", &v64))) return rc;
        if (v64 > MAX_KEYS) return usage_error("--require-witness: at most %d", MAX_KEYS);
        c.require_witness = (int)v64;
    }
    if (o.tolerance) {
        if ((rc = parse_u64(o.tolerance, "--time-tolerance", &v64))) return rc;
        if (v64 > 100ull * 365 * 86400) return usage_error("--time-tolerance: too large");
        c.time_tolerance_ms = (int64_t)v64 * 1000;
    }
    if ((c.require_witness || o.n_witness_keys) && !o.checkpoint)
        return usage_error("witness cosignatures are checked on a checkpoint: give --checkpoint");
    char *cp = NULL;
    size_t cpn = 0;
    if (o.checkpoint && read_text(o.checkpoint, &cp, &cpn)) return 1;
    c.checkpoint = cp;
    c.checkpoint_len = cpn;

    lfr_store *st;
    if (lfr_store_open_readonly(o.home, &st)) {
        free(cp);
        return lib_fail();
    }
    lfr_audit_verdict v;
    rc = lfr_audit_verify_with(st, &c, &v);
    lfr_store_close(st);
    free(cp);
    if (rc == LFR_ERR_TAMPERED && v.first_bad)
        return fail("audit entry %llu: %s", (unsigned long long)v.first_bad, v.reason);
    if (rc == LFR_ERR_TAMPERED) return fail("audit: %s", v.reason);
    if (rc) return lib_fail();
    char hex[2 * LFR_HASH_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, v.head_hash, LFR_HASH_BYTES);
    printf("audit chain ok: %llu entries, head %llu %s\n", (unsigned long long)v.n_entries,
           (unsigned long long)v.head_seq, hex);
    if (v.key[0]) {
        sodium_bin2hex(hex, sizeof hex, v.root, LFR_HASH_BYTES);
        const char *plus = strchr(v.key, '+');
        const char *plus2 = plus ? strchr(plus + 1, '+') : NULL;
        printf("log ok: %llu entries, root %s, signed by %.*s\n", (unsigned long long)v.tree_size,
               hex, plus2 ? (int)(plus2 - v.key) : 0, v.key);
        printf("published checkpoints ok: %llu\n", (unsigned long long)v.n_checkpoints);
    }
    if (o.checkpoint)
        printf("%s: the log extends this checkpoint of %llu entries; %d witness "
               "cosignature%s checked\n",
               o.checkpoint, (unsigned long long)v.checkpoint_size, v.n_witnesses,
               v.n_witnesses == 1 ? "" : "s");
    if (v.unanchored)
        printf("note: %llu newest entries are after audit.head (entry %llu): a crash between a "
               "commit and the anchor update, or a writer in progress\n",
               (unsigned long long)v.unanchored, (unsigned long long)v.anchor_seq);
    if (v.notes[0]) printf("note: %s\n", v.notes);
    return 0;
}

static int cmd_list(int argc, char **argv)
{
    aopts o;
    int rc = parse(argc, argv, "--user --actor --action --object --from --to", 0, &o);
    if (rc) return rc;
    if (!o.user) return usage_error("this command needs --user NAME");
    lfr_store *st = NULL;
    lfr_user me;
    if ((rc = lfr_cli_login(o.home, o.user, &st, &me))) return rc;
    lfr_audit_filter f = {o.actor, o.action, o.object, o.from, o.to};
    if (lfr_audit_list(st, &me, &f, print_entry, NULL)) rc = lib_fail();
    lfr_store_close(st);
    return rc;
}

static int cmd_checkpoint(int argc, char **argv)
{
    aopts o;
    int rc = parse(argc, argv, "--out --old --key --key!", 0, &o);
    if (rc) return rc;
    uint64_t old = 0;
    if (o.old && (rc = parse_u64(o.old, "--old", &old))) return rc;
    lfr_store *st;
    if (lfr_store_open_readonly(o.home, &st)) return lib_fail();
    char *text = NULL;
    size_t n = 0;
    char key[256];
    if (o.print_key) {
        rc = lfr_audit_log_key(st, key);
        if (!rc) {
            n = strlen(key);
            key[n++] = '\n';
        }
    } else if (o.old) {
        rc = lfr_audit_witness_request(st, old, &text, &n);
    } else {
        rc = lfr_audit_checkpoint(st, &text, &n);
    }
    lfr_store_close(st);
    if (rc) return lib_fail();
    rc = write_text(o.out, text ? text : key, n);
    free(text);
    return rc;
}

static int cmd_prove(int argc, char **argv)
{
    aopts o;
    int rc = parse(argc, argv, "--out", 1, &o);
    if (rc) return rc;
    if (o.n_pos != 1) return usage_error("usage: lfr audit prove ENTRY [--out FILE]");
    uint64_t seq;
    if ((rc = parse_u64(o.pos[0], "ENTRY", &seq))) return rc;
    lfr_store *st;
    if (lfr_store_open_readonly(o.home, &st)) return lib_fail();
    char *text;
    size_t n;
    rc = lfr_audit_prove(st, seq, &text, &n);
    lfr_store_close(st);
    if (rc) return lib_fail();
    rc = write_text(o.out, text, n);
    free(text);
    return rc;
}

static int cmd_reanchor(int argc, char **argv)
{
    aopts o;
    int rc = parse(argc, argv, "--user --reason", 0, &o);
    if (rc) return rc;
    if (!o.user) return usage_error("this command needs --user NAME");
    if (!o.reason) return usage_error("audit reanchor needs --reason TEXT");
    lfr_store *st = NULL;
    lfr_user me;
    if ((rc = lfr_cli_login(o.home, o.user, &st, &me))) return rc;
    char found[512];
    if (lfr_audit_reanchor(st, &me, o.reason, found))
        rc = lib_fail();
    else
        printf("re-anchored: %s\n", found);
    lfr_store_close(st);
    return rc;
}

int lfr_cli_audit(int argc, char **argv)
{
    if (argc < 1) return usage_error("usage: lfr audit verify|list|checkpoint|prove|reanchor ...");
    const char *sub = argv[0];
    if (!strcmp(sub, "verify")) return cmd_verify(argc - 1, argv + 1);
    if (!strcmp(sub, "list")) return cmd_list(argc - 1, argv + 1);
    if (!strcmp(sub, "checkpoint")) return cmd_checkpoint(argc - 1, argv + 1);
    if (!strcmp(sub, "prove")) return cmd_prove(argc - 1, argv + 1);
    if (!strcmp(sub, "reanchor")) return cmd_reanchor(argc - 1, argv + 1);
    return usage_error("unknown command 'audit %s'", sub);
}

/* ---- witness ----------------------------------------------------------------------------- */

int lfr_cli_witness(int argc, char **argv)
{
    if (argc < 1) return usage_error("usage: lfr witness init|cosign|show ...");
    const char *sub = argv[0];
    aopts o;
    int rc;
    if (!strcmp(sub, "init")) {
        if ((rc = parse(argc - 1, argv + 1, "--dir --name --log-key", 0, &o))) return rc;
        if (!o.name || !o.log_key)
            return usage_error("usage: lfr witness init --name NAME --log-key K [--dir DIR]");
        char key[256];
        if (key_text(o.log_key, key)) return 1;
        if (lfr_witness_init(o.dir, o.name, key)) return lib_fail();
        lfr_witness_info w;
        if (lfr_witness_show(o.dir, &w)) return lib_fail();
        printf("witness %s in %s\nkey %s\n", w.name, o.dir, w.key);
        return 0;
    }
    if (!strcmp(sub, "cosign")) {
        if ((rc = parse(argc - 1, argv + 1, "--dir --out", 1, &o))) return rc;
        if (o.n_pos != 1)
            return usage_error("usage: lfr witness cosign REQUEST [--dir DIR] [--out FILE]");
        char *req;
        size_t n;
        if (read_text(o.pos[0], &req, &n)) return 1;
        char *note;
        size_t nn;
        rc = lfr_witness_cosign(o.dir, req, n, &note, &nn);
        free(req);
        if (rc) return lib_fail();
        rc = write_text(o.out, note, nn);
        free(note);
        return rc;
    }
    if (!strcmp(sub, "show")) {
        if ((rc = parse(argc - 1, argv + 1, "--dir", 0, &o))) return rc;
        lfr_witness_info w;
        if (lfr_witness_show(o.dir, &w)) return lib_fail();
        char root[64];
        sodium_bin2base64(root, sizeof root, w.root, sizeof w.root, sodium_base64_VARIANT_ORIGINAL);
        printf("witness %s\nkey %s\nlog %s\nsize %llu\nroot %s\ntime %lld\n", w.name, w.key,
               w.log_key, (unsigned long long)w.size, root, (long long)w.time);
        return 0;
    }
    return usage_error("unknown command 'witness %s'", sub);
}
