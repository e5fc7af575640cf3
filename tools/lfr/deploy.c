/*
 * Deployment subcommands: deployment, alert, policy, retention, report.
 * Written on the public API (lfr/store.h) only; users log in as in
 * records.c. Errors are one line on stderr, "lfr: ...": exit 1, or 2 for a
 * usage error.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "lfr/lfr.h"

#define MAX_OPTS 24

#define fail lfr_cli_fail
#define usage_error lfr_cli_usage_error

/* ---- Options: --name value, in any order; --camera repeats ------------------------------ */

typedef struct dopts {
    const char *name[MAX_OPTS], *value[MAX_OPTS];
    int n;
    const char *pos[4];
    int n_pos;
    lfr_camera cameras[LFR_DEPLOYMENT_MAX_CAMERAS];
    int n_cameras;
} dopts;

/* `allowed`: space-separated option names (without --home, always allowed). */
static int parse(int argc, char **argv, const char *allowed, int max_pos, dopts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2)) {
            if (o->n_pos >= max_pos) return usage_error("unexpected argument '%s'", a);
            o->pos[o->n_pos++] = a;
            continue;
        }
        char word[48], list[512];
        snprintf(word, sizeof word, " %s ", a);
        snprintf(list, sizeof list, " --home %s ", allowed);
        if (!strstr(list, word)) return usage_error("unknown option '%s'", a);
        if (i + 1 >= argc) return usage_error("%s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--camera")) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || !eq[1])
                return usage_error("--camera takes NAME=URL, not '%s'", v);
            if (o->n_cameras >= LFR_DEPLOYMENT_MAX_CAMERAS)
                return usage_error("at most %d cameras", LFR_DEPLOYMENT_MAX_CAMERAS);
            lfr_camera *c = &o->cameras[o->n_cameras++];
            size_t nl = (size_t)(eq - v);
            if (nl > LFR_CAMERA_NAME_MAX || strlen(eq + 1) > LFR_CAMERA_URL_MAX)
                return usage_error("camera name or URL too long in '%.60s'", v);
            memcpy(c->name, v, nl);
            c->name[nl] = 0;
            snprintf(c->url, sizeof c->url, "%s", eq + 1);
            continue;
        }
        if (o->n >= MAX_OPTS) return usage_error("too many options");
        o->name[o->n] = a;
        o->value[o->n++] = v;
    }
    return 0;
}

static const char *opt(const dopts *o, const char *name)
{
    for (int i = o->n - 1; i >= 0; i--)
        if (!strcmp(o->name[i], name)) return o->value[i];
    return NULL;
}

static int parse_double(const char *name, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : NAN;
    if (!s || errno || end == s || *end || !isfinite(v))
        return usage_error("%s needs a number, not '%s'", name, s ? s : "");
    *out = v;
    return 0;
}

static int parse_id(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < 1)
        return usage_error("'%s' is not an id", s ? s : "");
    *out = v;
    return 0;
}

static int login(const dopts *o, lfr_store **st, lfr_user *me)
{
    const char *user = opt(o, "--user");
    if (!user) return usage_error("this command needs --user NAME");
    return lfr_cli_login(opt(o, "--home"), user, st, me);
}

/* ---- deployment ---------------------------------------------------------------------------- */

static int parse_categories(const char *list, unsigned *out)
{
    *out = 0;
    if (!list) return 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        lfr_category c;
        if (lfr_category_parse(tok, &c)) return usage_error("%s", lfr_errmsg());
        *out |= 1u << c;
    }
    return 0;
}

static void print_deployment(const lfr_deployment *d)
{
    printf("deployment %lld: %s\n", (long long)d->id, lfr_deployment_state_name(d->state));
    printf("  purpose        %s\n  justification  %s\n  legal basis    %s\n", d->purpose,
           d->justification, d->legal_basis);
    printf("  location       %s (%.6f, %.6f), %s\n", d->location, d->latitude, d->longitude,
           lfr_installation_name(d->installation));
    printf("  planned        %s to %s\n  threshold      %.4g\n", d->planned_start, d->planned_end,
           d->threshold);
    printf("  DPIA           %s\n  equality IA    %s\n", d->dpia_ref[0] ? d->dpia_ref : "-",
           d->eia_ref[0] ? d->eia_ref : "-");
    printf("  categories    ");
    for (int c = 1; c <= LFR_N_CATEGORIES; c++)
        if (d->categories & (1u << c)) printf(" %s", lfr_category_name((lfr_category)c));
    printf("\n  created        %s by %s\n", d->created_at, d->created_by);
    if (d->authorised_at[0])
        printf("  authorised     %s by %s\n", d->authorised_at, d->authorised_by);
    if (d->started_at[0]) printf("  started        %s by %s\n", d->started_at, d->started_by);
    if (d->stopped_at[0]) printf("  stopped        %s by %s\n", d->stopped_at, d->stopped_by);
    if (d->started_at[0]) {
        printf("  watchlist      %lld images of %lld subjects (%lld expired left out), hash %s\n",
               (long long)d->snapshot_images, (long long)d->snapshot_subjects,
               (long long)d->snapshot_expired_left_out, d->snapshot_hash);
        for (int c = 1; c <= LFR_N_CATEGORIES; c++)
            if (d->categories & (1u << c))
                printf("    %-18s %lld images, %lld subjects\n", lfr_category_name((lfr_category)c),
                       (long long)d->snapshot_by_category[c],
                       (long long)d->snapshot_subjects_by_category[c]);
        printf("  templates      %s\n", d->purged_at[0] ? "purged" : "held (sealed)");
        if (d->purged_at[0]) printf("  purged         %s\n", d->purged_at);
    }
}

static int print_camera(const char *camera, const lfr_counters *c, void *ctx)
{
    (void)ctx;
    printf("  camera %-16s frames %lld, dropped %lld, detections %lld, faces seen %lld,"
           " quality rejects %lld, alerts %lld\n",
           camera, (long long)c->frames, (long long)c->frames_dropped, (long long)c->detections,
           (long long)c->faces_seen, (long long)c->quality_rejects, (long long)c->alerts);
    return 0;
}

static int print_row(const lfr_deployment *d, void *ctx)
{
    (void)ctx;
    printf("%lld\t%s\t%s\t%s\t%s\t%s\t%lld images\t%s\n", (long long)d->id,
           lfr_deployment_state_name(d->state), d->started_at[0] ? d->started_at : d->planned_start,
           d->stopped_at[0] ? d->stopped_at : d->planned_end, d->location,
           lfr_installation_name(d->installation), (long long)d->snapshot_images, d->purpose);
    return 0;
}

static int cmd_deployment(int argc, char **argv)
{
    if (argc < 1) return usage_error("usage: lfr deployment create|authorise|start|stop|list|show");
    const char *sub = argv[0];
    dopts o;
    lfr_store *st = NULL;
    lfr_user me;
    int rc;
    if (!strcmp(sub, "create")) {
        rc = parse(argc - 1, argv + 1,
                   "--user --purpose --justification --legal-basis --location --lat --lon"
                   " --installation --start --end --threshold --dpia --eia --categories --camera",
                   0, &o);
        if (rc) return rc;
        lfr_deployment_params p;
        memset(&p, 0, sizeof p);
        const char *need[] = {"--purpose", "--justification", "--legal-basis",  "--location",
                              "--lat",     "--lon",           "--installation", "--start",
                              "--end",     "--threshold"};
        for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
            if (!opt(&o, need[i])) return usage_error("deployment create needs %s", need[i]);
        if (o.n_cameras < 1) return usage_error("deployment create needs --camera NAME=URL");
        if ((rc = parse_double("--lat", opt(&o, "--lat"), &p.latitude)) ||
            (rc = parse_double("--lon", opt(&o, "--lon"), &p.longitude)) ||
            (rc = parse_double("--threshold", opt(&o, "--threshold"), &p.threshold)) ||
            (rc = parse_categories(opt(&o, "--categories"), &p.categories)))
            return rc;
        if (lfr_installation_parse(opt(&o, "--installation"), &p.installation))
            return usage_error("%s", lfr_errmsg());
        p.purpose = opt(&o, "--purpose");
        p.justification = opt(&o, "--justification");
        p.legal_basis = opt(&o, "--legal-basis");
        p.location = opt(&o, "--location");
        p.planned_start = opt(&o, "--start");
        p.planned_end = opt(&o, "--end");
        p.dpia_ref = opt(&o, "--dpia");
        p.eia_ref = opt(&o, "--eia");
        p.cameras = o.cameras;
        p.n_cameras = o.n_cameras;
        if ((rc = login(&o, &st, &me))) return rc;
        int64_t id = 0;
        if (lfr_store_deployment_create(st, &me, &p, &id))
            rc = fail("%s", lfr_errmsg());
        else
            printf("created deployment %lld (awaiting authorisation)\n", (long long)id);
        lfr_store_close(st);
        return rc;
    }
    if (!strcmp(sub, "list")) {
        if ((rc = parse(argc - 1, argv + 1, "--user --from --to", 0, &o))) return rc;
        if ((rc = login(&o, &st, &me))) return rc;
        if (lfr_store_deployment_list(st, &me, opt(&o, "--from"), opt(&o, "--to"), print_row, NULL))
            rc = fail("%s", lfr_errmsg());
        lfr_store_close(st);
        return rc;
    }
    int is_auth = !strcmp(sub, "authorise") || !strcmp(sub, "authorize");
    if (!is_auth && strcmp(sub, "start") && strcmp(sub, "stop") && strcmp(sub, "show"))
        return usage_error("unknown command 'deployment %s'", sub);
    if ((rc = parse(argc - 1, argv + 1, "--user", 1, &o))) return rc;
    int64_t id = 0;
    if (o.n_pos != 1) return usage_error("usage: lfr deployment %s ID --user NAME", sub);
    if ((rc = parse_id(o.pos[0], &id))) return rc;
    if ((rc = login(&o, &st, &me))) return rc;
    lfr_deployment *d = malloc(sizeof *d);
    if (!d) rc = fail("out of memory");
    if (!rc && !strcmp(sub, "show")) {
        if (lfr_store_deployment_get(st, &me, id, d)) rc = fail("%s", lfr_errmsg());
        if (!rc) {
            print_deployment(d);
            for (int i = 0; i < d->n_cameras; i++)
                printf("  camera %-16s %s\n", d->cameras[i].name, d->cameras[i].url);
            lfr_store_counters_get(st, &me, id, print_camera, NULL);
        }
    } else if (!rc) {
        int r = is_auth                 ? lfr_store_deployment_authorise(st, &me, id)
                : !strcmp(sub, "start") ? lfr_store_deployment_start(st, &me, id)
                                        : lfr_store_deployment_stop(st, &me, id);
        if (r)
            rc = fail("%s", lfr_errmsg());
        else if (!lfr_store_deployment_get(st, &me, id, d)) {
            if (is_auth)
                printf("authorised deployment %lld\n", (long long)id);
            else if (!strcmp(sub, "start"))
                printf("started deployment %lld: watchlist frozen, %lld images of %lld subjects"
                       " (%lld expired subjects left out)\n",
                       (long long)id, (long long)d->snapshot_images,
                       (long long)d->snapshot_subjects, (long long)d->snapshot_expired_left_out);
            else
                printf("stopped deployment %lld\n", (long long)id);
        }
    }
    free(d);
    lfr_store_close(st);
    return rc;
}

/* ---- alert ----------------------------------------------------------------------------------- */

static int print_alert(const lfr_alert *a, void *ctx)
{
    (void)ctx;
    printf("%lld\t%lld\t%s\t%s\ttrack %lld\t%s (%s)\t%.4f\t%s\t%s\t%s\n", (long long)a->id,
           (long long)a->deployment_id, a->camera, a->time, (long long)a->track,
           a->subject_reference, lfr_category_name(a->category), a->score,
           lfr_outcome_name(a->outcome), lfr_engagement_name(a->engagement),
           a->has_crop ? "crop" : "no crop");
    return 0;
}

static int write_private(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wx");
    if (!f) return fail("%s: cannot create: %s", path, strerror(errno));
    size_t w = fwrite(data, 1, n, f);
    int bad = w != n;
    if (fclose(f)) bad = 1;
    if (bad) {
        remove(path);
        return fail("%s: write failed", path);
    }
    return 0;
}

static int cmd_alert(int argc, char **argv)
{
    if (argc < 1) return usage_error("usage: lfr alert list|show|adjudicate ...");
    const char *sub = argv[0];
    dopts o;
    lfr_store *st = NULL;
    lfr_user me;
    int rc;
    if (!strcmp(sub, "list")) {
        rc = parse(argc - 1, argv + 1, "--user --deployment --outcome --from --to", 0, &o);
        if (rc) return rc;
        lfr_alert_filter f = {0};
        f.from = opt(&o, "--from");
        f.to = opt(&o, "--to");
        if (opt(&o, "--deployment") && (rc = parse_id(opt(&o, "--deployment"), &f.deployment_id)))
            return rc;
        if (opt(&o, "--outcome") && lfr_outcome_parse(opt(&o, "--outcome"), &f.outcome))
            return usage_error("%s", lfr_errmsg());
        if ((rc = login(&o, &st, &me))) return rc;
        if (lfr_store_alert_list(st, &me, &f, print_alert, NULL)) rc = fail("%s", lfr_errmsg());
        lfr_store_close(st);
        return rc;
    }
    if (!strcmp(sub, "show")) {
        if ((rc = parse(argc - 1, argv + 1, "--user --crop", 1, &o))) return rc;
        int64_t id = 0;
        if (o.n_pos != 1) return usage_error("usage: lfr alert show ID --user NAME [--crop FILE]");
        if ((rc = parse_id(o.pos[0], &id))) return rc;
        if ((rc = login(&o, &st, &me))) return rc;
        lfr_alert *a = malloc(sizeof *a);
        uint8_t *crop = NULL;
        size_t crop_n = 0;
        const char *crop_path = opt(&o, "--crop");
        if (!a)
            rc = fail("out of memory");
        else if (lfr_store_alert_show(st, &me, id, a, crop_path ? &crop : NULL, &crop_n))
            rc = fail("%s", lfr_errmsg());
        if (!rc) {
            printf("alert %lld\n  deployment     %lld, camera %s\n  time           %s\n"
                   "  track          %lld\n  candidate      subject %lld (%s, %s), image %lld\n"
                   "  score          %.4f\n  outcome        %s\n  engagement     %s\n",
                   (long long)a->id, (long long)a->deployment_id, a->camera, a->time,
                   (long long)a->track, (long long)a->subject_id, a->subject_reference,
                   lfr_category_name(a->category), (long long)a->image_id, a->score,
                   lfr_outcome_name(a->outcome), lfr_engagement_name(a->engagement));
            if (a->adjudicated_by[0])
                printf("  adjudicated    %s by %s\n", a->adjudicated_at, a->adjudicated_by);
            if (a->note[0]) printf("  note           %s\n", a->note);
            printf("  crop           %s\n", a->has_crop             ? "held (sealed)"
                                            : a->crop_deleted_at[0] ? "deleted by retention"
                                                                    : "none recorded");
            if (crop_path && crop) {
                rc = write_private(crop_path, crop, crop_n);
                if (!rc) printf("  crop written to %s (%zu bytes)\n", crop_path, crop_n);
            } else if (crop_path) {
                rc = fail("alert %lld has no crop to write", (long long)id);
            }
        }
        if (crop) {
            sodium_memzero(crop, crop_n);
            free(crop);
        }
        free(a);
        lfr_store_close(st);
        return rc;
    }
    if (strcmp(sub, "adjudicate")) return usage_error("unknown command 'alert %s'", sub);
    if ((rc = parse(argc - 1, argv + 1, "--user --outcome --engagement --note", 1, &o))) return rc;
    int64_t id = 0;
    if (o.n_pos != 1 || !opt(&o, "--outcome"))
        return usage_error("usage: lfr alert adjudicate ID --user NAME --outcome O");
    if ((rc = parse_id(o.pos[0], &id))) return rc;
    lfr_outcome out;
    lfr_engagement eng = LFR_ENGAGEMENT_NONE;
    if (lfr_outcome_parse(opt(&o, "--outcome"), &out)) return usage_error("%s", lfr_errmsg());
    if (opt(&o, "--engagement") && lfr_engagement_parse(opt(&o, "--engagement"), &eng))
        return usage_error("%s", lfr_errmsg());
    if ((rc = login(&o, &st, &me))) return rc;
    if (lfr_store_alert_adjudicate(st, &me, id, out, eng, opt(&o, "--note")))
        rc = fail("%s", lfr_errmsg());
    else
        printf("alert %lld: %s%s%s\n", (long long)id, lfr_outcome_name(out), eng ? ", " : "",
               eng ? lfr_engagement_name(eng) : "");
    lfr_store_close(st);
    return rc;
}

/* ---- policy, retention ------------------------------------------------------------------------
 */

static void print_policy(const lfr_policy *p)
{
    printf("alert_crop_days\t%lld\nsnapshot_purge_hours\t%lld\nexpired_subject_days\t%lld\n"
           "checkpoint_entries\t%lld\ncheckpoint_minutes\t%lld\n",
           (long long)p->alert_crop_days, (long long)p->snapshot_purge_hours,
           (long long)p->expired_subject_days, (long long)p->checkpoint_entries,
           (long long)p->checkpoint_minutes);
    if (p->set_by[0])
        printf("last changed %s by %s\n", p->set_at, p->set_by);
    else
        printf("(defaults)\n");
}

static int cmd_policy(int argc, char **argv)
{
    if (argc < 1) return usage_error("usage: lfr policy show|set ...");
    dopts o;
    lfr_store *st = NULL;
    lfr_user me;
    int rc;
    if (!strcmp(argv[0], "show")) {
        if ((rc = parse(argc - 1, argv + 1, "", 0, &o))) return rc;
        const char *home = opt(&o, "--home");
        if (!home) home = getenv("LFR_HOME");
        if (lfr_store_open(home && *home ? home : "lfr-data", &st)) return fail("%s", lfr_errmsg());
        lfr_policy p;
        if (lfr_store_policy_get(st, &p))
            rc = fail("%s", lfr_errmsg());
        else
            print_policy(&p);
        lfr_store_close(st);
        return rc;
    }
    if (strcmp(argv[0], "set")) return usage_error("unknown command 'policy %s'", argv[0]);
    if ((rc = parse(argc - 1, argv + 1, "--user", 2, &o))) return rc;
    if (o.n_pos != 2) return usage_error("usage: lfr policy set KEY VALUE --user ADMIN");
    char *end;
    errno = 0;
    long long v = strtoll(o.pos[1], &end, 10);
    if (errno || end == o.pos[1] || *end)
        return usage_error("'%s' is not a whole number", o.pos[1]);
    if ((rc = login(&o, &st, &me))) return rc;
    if (lfr_store_policy_set(st, &me, o.pos[0], v))
        rc = fail("%s", lfr_errmsg());
    else
        printf("%s = %lld\n", o.pos[0], v);
    lfr_store_close(st);
    return rc;
}

static int cmd_retention(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "run"))
        return usage_error("usage: lfr retention run --user ADMIN");
    dopts o;
    lfr_store *st = NULL;
    lfr_user me;
    int rc = parse(argc - 1, argv + 1, "--user", 0, &o);
    if (rc) return rc;
    if ((rc = login(&o, &st, &me))) return rc;
    lfr_policy p;
    lfr_retention_result r;
    if (lfr_store_policy_get(st, &p) || lfr_store_retention_run(st, &me, &r)) {
        rc = fail("%s", lfr_errmsg());
    } else {
        printf("policy: alert crops %lld days, snapshots %lld hours after the end, expired"
               " subjects' images %lld days after expiry\n",
               (long long)p.alert_crop_days, (long long)p.snapshot_purge_hours,
               (long long)p.expired_subject_days);
        printf("deleted: %lld alert crops, %lld snapshots (%lld templates), %lld images of %lld"
               " expired subjects, %lld orphan files\n",
               (long long)r.alert_crops, (long long)r.snapshots, (long long)r.snapshot_images,
               (long long)r.subject_images, (long long)r.subjects, (long long)r.orphans);
    }
    lfr_store_close(st);
    return rc;
}

/* ---- report ------------------------------------------------------------------------------------
 */

static int cmd_report(int argc, char **argv)
{
    if (argc < 1 || (strcmp(argv[0], "grid") && strcmp(argv[0], "foi")))
        return usage_error(
            "usage: lfr report grid|foi --user NAME [--from D] [--to D] [--format F]");
    int grid = !strcmp(argv[0], "grid");
    dopts o;
    lfr_store *st = NULL;
    lfr_user me;
    int rc = parse(argc - 1, argv + 1, "--user --from --to --format --output", 0, &o);
    if (rc) return rc;
    lfr_report_format fmt = grid ? LFR_REPORT_CSV : LFR_REPORT_MD;
    if (opt(&o, "--format") && lfr_report_format_parse(opt(&o, "--format"), &fmt))
        return usage_error("%s", lfr_errmsg());
    if ((rc = login(&o, &st, &me))) return rc;
    const char *path = opt(&o, "--output");
    FILE *out = stdout;
    if (path && !(out = fopen(path, "w")))
        rc = fail("%s: cannot create: %s", path, strerror(errno));
    if (!rc) {
        int r = grid ? lfr_report_grid(st, &me, opt(&o, "--from"), opt(&o, "--to"), fmt, out)
                     : lfr_report_foi(st, &me, opt(&o, "--from"), opt(&o, "--to"), fmt, out);
        if (r) rc = fail("%s", lfr_errmsg());
    }
    if (path && out && fclose(out) && !rc) rc = fail("%s: write failed", path);
    lfr_store_close(st);
    return rc;
}

int lfr_cli_deploy(const char *cmd, int argc, char **argv)
{
    if (!strcmp(cmd, "deployment")) return cmd_deployment(argc, argv);
    if (!strcmp(cmd, "alert")) return cmd_alert(argc, argv);
    if (!strcmp(cmd, "policy")) return cmd_policy(argc, argv);
    if (!strcmp(cmd, "retention")) return cmd_retention(argc, argv);
    if (!strcmp(cmd, "report")) return cmd_report(argc, argv);
    if (!strcmp(cmd, "run")) return lfr_cli_run(argc, argv);
    return -1;
}
