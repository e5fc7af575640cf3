/*
 * Benchmark of the transparency log: what signing every commit costs a
 * writer, and how long verification takes on a large home.
 *
 *   bench_audit [ENTRIES] [COMMITS]      (defaults 100000 and 500)
 *
 * 1. Commit cost: COMMITS transactions of one audit entry each, in a home
 *    whose log is on (the head signed with Ed25519 and stored before every
 *    commit, the guard's checks, audit.head written as a signed checkpoint),
 *    against the same in a home of schema 5, before the log (the old
 *    anchor of seq and hash), measured in the same run: the ratio is the
 *    log's cost per commit. Both use synchronous=FULL and fsync the anchor.
 * 2. Verification: ENTRIES entries (written 1,000 to a transaction), then
 *    lfr_audit_verify on a read-only handle (chain, times, the Merkle tree,
 *    the signed head, audit.head, published checkpoints, records), against
 *    scripts/audit-verify.py (the independent verifier, Python) on the same
 *    home: the ratio is Python's time over ours.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lfr/lfr.h"
#include "store/store.h"
#include "util/util.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_audit: %s: %s\n", what, lfr_errmsg());
    exit(1);
}

/* A home at schema `version` (0: the newest, log on). */
static lfr_store *make_home(const char *dir, const char *name, int version)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    lfr_store *s;
    if (version == 0) {
        if (lfr_store_init(path) || lfr_store_open(path, &s)) die(path);
        return s;
    }
    if (mkdir(path, 0700)) die(path);
    char p[700];
    uint8_t key[32] = {7};
    snprintf(p, sizeof p, "%s/key", path);
    if (lfr__file_create(p, key, sizeof key, 0600)) die(p);
    snprintf(p, sizeof p, "%s/lfr.db", path);
    if (lfr__file_create(p, "", 0, 0600)) die(p);
    if (lfr__store_open_raw(path, &s) || lfr__store_migrate(s, version)) die(path);
    return s;
}

static void append(lfr_store *s, int n, int per_commit, int i0)
{
    for (int i = 0; i < n; i += per_commit) {
        if (lfr__store_begin(s)) die("begin");
        for (int k = 0; k < per_commit && i + k < n; k++) {
            char object[48], detail[160];
            snprintf(object, sizeof object, "user:u%d", i0 + i + k);
            snprintf(detail, sizeof detail,
                     "{\"status\":\"unknown user or wrong password\",\"reason\":\"unknown user "
                     "or wrong password\",\"n\":%d}",
                     i0 + i + k);
            if (lfr__audit_append(s, "anonymous", "login.refused", object, detail)) die("append");
        }
        if (lfr__store_commit(s)) die("commit");
    }
}

int main(int argc, char **argv)
{
    int entries = argc > 1 ? atoi(argv[1]) : 100000; /* style:allow (a bench's argument) */
    int commits = argc > 2 ? atoi(argv[2]) : 500;    /* style:allow */
    if (entries < 1 || commits < 1) {
        fprintf(stderr, "usage: bench_audit [ENTRIES] [COMMITS]\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/lfr-bench-audit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) die("mkdtemp");

    /* 1. Commit cost, log on and off, in alternating rounds (the disk's
     * fsync times wander on a shared machine): the medians of the rounds. */
    enum { ROUNDS = 10 };
    lfr_store *on = make_home(dir, "on", 0);
    lfr_store *off = make_home(dir, "off", lfr__sqlite_log_version - 1);
    double r_on[ROUNDS], r_off[ROUNDS];
    int per = commits / ROUNDS > 0 ? commits / ROUNDS : 1;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now_s();
        append(on, per, 1, round * per);
        double t1 = now_s();
        append(off, per, 1, round * per);
        r_off[round] = (now_s() - t1) / per;
        r_on[round] = (t1 - t0) / per;
    }
    qsort(r_on, ROUNDS, sizeof r_on[0], cmp_double);
    qsort(r_off, ROUNDS, sizeof r_off[0], cmp_double);
    double m_on = (r_on[ROUNDS / 2 - 1] + r_on[ROUNDS / 2]) / 2;
    double m_off = (r_off[ROUNDS / 2 - 1] + r_off[ROUNDS / 2]) / 2;
    int done = per * ROUNDS;
    printf("commit of one entry (median of %d rounds of %d): log on %.3f ms, before the log "
           "(schema %d) %.3f ms; ratio %.2f (synchronous=FULL)\n",
           ROUNDS, per, 1e3 * m_on, lfr__sqlite_log_version - 1, 1e3 * m_off, m_on / m_off);
    lfr_store_close(off);

    /* 2. Verification of a large home. */
    double t0 = now_s();
    append(on, entries - done, 1000, done);
    lfr_store_close(on);
    printf("wrote %d entries in %.1f s (1,000 a commit)\n", entries, now_s() - t0);
    char home[600];
    snprintf(home, sizeof home, "%s/on", dir);
    lfr_store *ro;
    if (lfr_store_open_readonly(home, &ro)) die("open read-only");
    lfr_audit_verdict v;
    t0 = now_s();
    if (lfr_audit_verify(ro, &v)) die("verify");
    double t_c = now_s() - t0;
    lfr_store_close(ro);
    printf("lfr_audit_verify: %llu entries in %.3f s\n", (unsigned long long)v.n_entries, t_c);

    const char *src = getenv("LFR_SOURCE");
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "python3 %s/scripts/audit-verify.py %s > /dev/null",
             src && *src ? src : ".", home);
    t0 = now_s();
    int rc = system(cmd);
    double t_py = now_s() - t0;
    if (rc == 0)
        printf("scripts/audit-verify.py: %.3f s; ratio (Python / lfr) %.1f\n", t_py, t_py / t_c);
    else
        printf("scripts/audit-verify.py: failed (exit %d): no ratio\n", rc);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc == 0 ? 0 : 1;
}
