/*
 * lfr_seed: records what a live pipeline would, through the same public
 * API, for end-to-end tests of the records and reports (the pipeline
 * itself is tested elsewhere). Reads commands from stdin, one per line:
 *
 *   alert DEPLOYMENT CAMERA IMAGE SCORE TIME TRACK [CROP_FILE]
 *   count DEPLOYMENT CAMERA FRAMES DROPPED DETECTIONS FACES_SEEN REJECTS
 *
 * Runs as the user named by its argument (password from $LFR_PASSWORD) on
 * $LFR_HOME. Prints "alert ID" per alert; stops at the first error with a
 * message and exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lfr/lfr.h"

int main(int argc, char **argv)
{
    const char *home = getenv("LFR_HOME"), *pw = getenv("LFR_PASSWORD");
    if (argc != 2 || !home || !pw) {
        fprintf(stderr, "usage: LFR_HOME=DIR LFR_PASSWORD=PW lfr_seed USER < commands\n");
        return 2;
    }
    lfr_store *st;
    lfr_user me;
    if (lfr_store_open(home, &st) || lfr_store_login(st, argv[1], pw, &me)) {
        fprintf(stderr, "lfr_seed: %s\n", lfr_errmsg());
        return 1;
    }
    char line[4096];
    int rc = 0, n = 0;
    while (!rc && fgets(line, sizeof line, stdin)) {
        n++;
        char cmd[16], cam[64], time[64], crop[1024] = "";
        long long dep, a, b, c, d, e;
        double score;
        if (sscanf(line, "alert %lld %63s %lld %lf %63s %lld %1023s", &dep, cam, &a, &score, time,
                   &b, crop) >= 6) {
            uint8_t *bytes = NULL;
            size_t size = 0;
            if (crop[0]) {
                FILE *f = fopen(crop, "rb");
                if (f) {
                    bytes = malloc(1 << 22);
                    size = bytes ? fread(bytes, 1, 1 << 22, f) : 0;
                    fclose(f);
                }
            }
            lfr_alert_params p = {dep, cam, time, b, a, score, bytes, size};
            int64_t id;
            if (lfr_store_alert_add(st, &me, &p, &id))
                rc = 1;
            else
                printf("alert %lld\n", (long long)id);
            free(bytes);
        } else if (sscanf(line, "count %lld %63s %lld %lld %lld %lld %lld", &dep, cam, &a, &b, &c,
                          &d, &e) == 7) {
            lfr_counters k = {a, b, c, d, e, 0};
            if (lfr_store_counters_add(st, &me, dep, cam, &k)) rc = 1;
        } else if (sscanf(line, "%15s", cmd) == 1) {
            fprintf(stderr, "lfr_seed: line %d: unknown command\n", n);
            rc = 2;
        }
        if (rc == 1) fprintf(stderr, "lfr_seed: line %d: %s\n", n, lfr_errmsg());
    }
    lfr_store_close(st);
    return rc;
}
