/*
 * The record-keeping subcommands: init, user, sharing, evaluation,
 * subject, watchlist (audit and witness: audit.c).
 * Written on the public API (lfr/store.h) only. Every command that changes
 * anything, or reads records, runs as a user named with --user, whose
 * password comes from
 * $LFR_PASSWORD or the terminal with echo off, never from the command line.
 * Errors are one line on stderr, "lfr: ...": exit 1, or 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "import.h"
#include "lfr/lfr.h"

const char lfr_cli_records_usage[] =
    "\n"
    "records (all take --home DIR, default $LFR_HOME, else ./lfr-data):\n"
    "  init [--database CONNINFO]     create a home: database, key, media folder;\n"
    "                                 with --database, records and sealed media go to\n"
    "                                 that (empty) PostgreSQL database instead\n"
    "                                 (postgresql://HOST/DB?sslmode=verify-full)\n"
    "  store migrate --from HOME --to CONNINFO [--home NEW]\n"
    "                                 copy an embedded home into an empty PostgreSQL\n"
    "                                 database: every record, sealed media, the audit\n"
    "                                 log as it is; verified before and after; safe to\n"
    "                                 run again after an interruption. NEW: the new\n"
    "                                 home (default HOME-postgresql)\n"
    "  user add NAME --role ROLE [--user ADMIN]\n"
    "                                 add a user (ROLE: operator, authorising_officer,\n"
    "                                 auditor, administrator); the first user, an\n"
    "                                 administrator, needs no --user; the new password\n"
    "                                 from $LFR_NEW_PASSWORD or asked twice\n"
    "  user list --user NAME          users and roles\n"
    "  sharing add --user ADMIN --recipient R --purpose P --legal-basis L --dataset D\n"
    "              --images N --security S [--date T]\n"
    "                                 record data shared outside the force (date: now)\n"
    "  sharing list --user NAME [--from T] [--to T]\n"
    "                                 the sharing register\n"
    "  evaluation list --user NAME [--from T] [--to T]\n"
    "                                 accuracy and bias test runs on record\n"
    "  evaluation show ID --user NAME the figures of one run (NaN: none / too small)\n"
    "  subject add REF IMAGE... --user NAME --category C --reason R --expires T\n"
    "              [--provenance P] [--captured T] [--models DIR]\n"
    "                                 enrol a subject (REF pseudonymous, e.g. a custody\n"
    "                                 number); each image must hold exactly one face.\n"
    "                                 C: wanted_by_courts, suspect, bail_conditions,\n"
    "                                 missing_at_risk, risk_of_harm, associate, witness,\n"
    "                                 victim. P (all images): custody_imaging (default),\n"
    "                                 other_police_source, public_appeal, other\n"
    "  subject import MANIFEST --user NAME [--models DIR]\n"
    "                                 enrol many subjects from a TSV manifest; resumable\n"
    "  subject list --user NAME       subjects with status and image counts\n"
    "  subject show ID --user NAME    one subject and its image hashes (audited)\n"
    "  subject remove ID --user NAME  take off the watchlist and delete its images\n"
    "  watchlist stats --user NAME    counts per category and provenance\n"
    "  deployment create --user NAME --purpose P --justification J --legal-basis L\n"
    "              --location NAME --lat X --lon Y --installation temporary|permanent|\n"
    "              mobile_unit --start T --end T --threshold X --camera NAME=URL...\n"
    "              [--dpia REF] [--eia REF] [--categories C,C,...]\n"
    "                                 record a deployment awaiting authorisation\n"
    "  deployment authorise|start|stop ID --user NAME\n"
    "                                 authorise (an authorising officer other than\n"
    "                                 its creator), start (freezes the watchlist),\n"
    "                                 stop\n"
    "  deployment list --user NAME [--from T] [--to T]\n"
    "  deployment show ID --user NAME with its cameras, counters and snapshot\n"
    "  alert list --user NAME [--deployment ID] [--outcome O] [--from T] [--to T]\n"
    "  alert show ID --user NAME [--crop FILE]\n"
    "                                 one alert (audited); --crop writes the probe\n"
    "                                 face (JPEG) to FILE\n"
    "  alert adjudicate ID --user NAME --outcome true|false|confirmed_true|\n"
    "              confirmed_false [--engagement not_stopped|spoken_to|arrested|\n"
    "              other_disposal] [--note TEXT]\n"
    "  policy show                    the retention policy in force\n"
    "  policy set KEY VALUE --user ADMIN\n"
    "                                 alert_crop_days (31), snapshot_purge_hours (24),\n"
    "                                 expired_subject_days (0), checkpoint_entries (1000),\n"
    "                                 checkpoint_minutes (60)\n"
    "  retention run --user ADMIN     delete what the policy says is due; prints\n"
    "                                 what was deleted (receipts in the audit chain)\n"
    "  run --deployment ID --user NAME [--events FILE|-] [--realtime] [--loop]\n"
    "      [--duration S] [--stop] [--models DIR]\n"
    "                                 watch the deployment's cameras (starting it if\n"
    "                                 authorised): alerts to the records and, as JSON\n"
    "                                 lines, to --events; SIGINT/SIGTERM stop cleanly\n"
    "  report grid --user NAME [--from D] [--to D] [--format csv|json|md]\n"
    "                                 one row per deployment\n"
    "  report foi --user NAME [--from D] [--to D] [--format md|html|json]\n"
    "                                 the transparency report\n"
    "  --user NAME runs the command as NAME; the password comes from $LFR_PASSWORD,\n"
    "  else the terminal.\n";

/* ---- Output -------------------------------------------------------------------- */

#define fail lfr_cli_fail
#define usage_error lfr_cli_usage_error

int lfr_cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("lfr: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (lfr help)\n", stderr);
    return 2;
}

static int lib_fail(void)
{
    return fail("%s", lfr_errmsg());
}

/* ---- Options ----------------------------------------------------------------------- */

typedef struct ropts {
    const char *home;
    const char *user;
    const char *role;
    const char *actor, *action, *object, *from, *to;
    const char *recipient, *purpose, *legal_basis, *dataset, *images, *security, *date;
    const char *category, *reason, *expires, *provenance, *captured, *models;
    const char *database;
    const char *pos[1 + LFR_SUBJECT_MAX_IMAGES];
    int n_pos;
} ropts;

/* Parse options for a records command; `allowed` lists the options it takes
 * besides --home, space-separated. Returns 0, or 2 after a usage message. */
static int parse(int argc, char **argv, const char *allowed, int max_pos, ropts *o)
{
    memset(o, 0, sizeof *o);
    static const struct {
        const char *name;
        size_t off;
    } table[] = {
        {"--home", offsetof(ropts, home)},
        {"--user", offsetof(ropts, user)},
        {"--role", offsetof(ropts, role)},
        {"--actor", offsetof(ropts, actor)},
        {"--action", offsetof(ropts, action)},
        {"--object", offsetof(ropts, object)},
        {"--from", offsetof(ropts, from)},
        {"--to", offsetof(ropts, to)},
        {"--recipient", offsetof(ropts, recipient)},
        {"--purpose", offsetof(ropts, purpose)},
        {"--legal-basis", offsetof(ropts, legal_basis)},
        {"--dataset", offsetof(ropts, dataset)},
        {"--images", offsetof(ropts, images)},
        {"--security", offsetof(ropts, security)},
        {"--date", offsetof(ropts, date)},
        {"--category", offsetof(ropts, category)},
        {"--reason", offsetof(ropts, reason)},
        {"--expires", offsetof(ropts, expires)},
        {"--provenance", offsetof(ropts, provenance)},
        {"--captured", offsetof(ropts, captured)},
        {"--models", offsetof(ropts, models)},
        {"--database", offsetof(ropts, database)},
    };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            if (o->n_pos >= max_pos) return usage_error("unexpected argument '%s'", a);
            o->pos[o->n_pos++] = a;
            continue;
        }
        size_t k = 0, n = sizeof table / sizeof table[0];
        while (k < n && strcmp(a, table[k].name))
            k++;
        char word[32];
        snprintf(word, sizeof word, " %s ", a);
        char list[256];
        snprintf(list, sizeof list, " --home %s ", allowed);
        if (k == n || !strstr(list, word)) return usage_error("unknown option '%s'", a);
        if (i + 1 >= argc) return usage_error("%s needs a value", a);
        *(const char **)((char *)o + table[k].off) = argv[++i];
    }
    if (!o->home) o->home = getenv("LFR_HOME");
    if (!o->home || !*o->home) o->home = "lfr-data";
    return 0;
}

/* ---- Passwords ----------------------------------------------------------------------- */

#define PW_CAP (LFR_PASSWORD_MAX + 2)

/* Read a line from the terminal with echo off into buf (cap bytes). */
static int read_tty_password(const char *prompt, char *buf, size_t cap)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail("no password: set LFR_PASSWORD / LFR_NEW_PASSWORD or run in a terminal");
    struct termios old, quiet;
    int have_tc = tcgetattr(fd, &old) == 0;
    if (have_tc) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    ssize_t w = write(fd, prompt, strlen(prompt));
    (void)w;
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || c == '\n') break;
        if (n + 1 < cap) buf[n++] = c;
    }
    buf[n] = 0;
    if (n > 0 && buf[n - 1] == '\r') buf[--n] = 0;
    if (have_tc) tcsetattr(fd, TCSAFLUSH, &old);
    close(fd);
    return 0;
}

/* The password of an existing user: $LFR_PASSWORD, else the terminal. */
static int get_password(const char *user, char *buf, size_t cap)
{
    const char *env = getenv("LFR_PASSWORD");
    if (env) {
        snprintf(buf, cap, "%s", env);
        return 0;
    }
    char prompt[128];
    snprintf(prompt, sizeof prompt, "password for %s: ", user);
    return read_tty_password(prompt, buf, cap);
}

/* A new user's password: $LFR_NEW_PASSWORD, else asked twice. */
static int get_new_password(const char *user, char *buf, size_t cap)
{
    const char *env = getenv("LFR_NEW_PASSWORD");
    if (env) {
        snprintf(buf, cap, "%s", env);
        return 0;
    }
    char prompt[128], again[PW_CAP];
    snprintf(prompt, sizeof prompt, "new password for %s: ", user);
    if (read_tty_password(prompt, buf, cap)) return 1;
    if (read_tty_password("again: ", again, sizeof again)) {
        sodium_memzero(again, sizeof again);
        return 1;
    }
    int same = strcmp(buf, again) == 0;
    sodium_memzero(again, sizeof again);
    if (!same) return fail("the passwords do not match");
    return 0;
}

/* Open the store and log in as o->user (required). */
static int open_as(const ropts *o, lfr_store **st, lfr_user *me)
{
    if (!o->user) return usage_error("this command needs --user NAME");
    if (lfr_store_open(o->home, st)) return lib_fail();
    char pw[PW_CAP];
    int rc = get_password(o->user, pw, sizeof pw);
    if (!rc && lfr_store_login(*st, o->user, pw, me)) rc = lib_fail();
    sodium_memzero(pw, sizeof pw);
    if (rc) {
        lfr_store_close(*st);
        *st = NULL;
    }
    return rc;
}

/* ---- Commands ------------------------------------------------------------------------- */

static int cmd_init(int argc, char **argv)
{
    ropts o;
    int rc = parse(argc, argv, "--database", 0, &o);
    if (rc) return rc;
    lfr_store_config cfg = {.database = o.database};
    if (lfr_store_init_with(o.home, &cfg)) return lib_fail();
    printf("initialised %s%s\n", o.home, o.database ? " (records in PostgreSQL)" : "");
    return 0;
}

static int print_user(const lfr_user *u, void *ctx)
{
    (void)ctx;
    printf("%s\t%s\t%s\n", u->name, lfr_role_name(u->role), u->created);
    return 0;
}

static int cmd_user(int argc, char **argv)
{
    if (argc < 1) return usage_error("usage: lfr user add|list ...");
    const char *sub = argv[0];
    ropts o;
    lfr_store *st = NULL;
    lfr_user me;
    if (!strcmp(sub, "list")) {
        int rc = parse(argc - 1, argv + 1, "--user", 0, &o);
        if (rc) return rc;
        if ((rc = open_as(&o, &st, &me))) return rc;
        if (lfr_store_user_list(st, &me, print_user, NULL)) rc = lib_fail();
        lfr_store_close(st);
        return rc;
    }
    if (strcmp(sub, "add")) return usage_error("unknown command 'user %s'", sub);
    int rc = parse(argc - 1, argv + 1, "--user --role", 1, &o);
    if (rc) return rc;
    if (o.n_pos != 1) return usage_error("usage: lfr user add NAME --role ROLE [--user ADMIN]");
    if (!o.role) return usage_error("user add needs --role ROLE");
    lfr_role role;
    if (lfr_role_parse(o.role, &role)) return usage_error("%s", lfr_errmsg());

    if (o.user) {
        if ((rc = open_as(&o, &st, &me))) return rc;
    } else {
        if (lfr_store_open(o.home, &st)) return lib_fail();
        int64_t n = 0;
        if (lfr_store_user_count(st, &n) == LFR_OK && n > 0) {
            lfr_store_close(st);
            return usage_error("users exist: add one as an administrator with --user NAME");
        }
    }
    char pw[PW_CAP];
    rc = get_new_password(o.pos[0], pw, sizeof pw);
    if (!rc && lfr_store_user_add(st, o.user ? &me : NULL, o.pos[0], role, pw)) rc = lib_fail();
    sodium_memzero(pw, sizeof pw);
    if (!rc) printf("added %s (%s)\n", o.pos[0], lfr_role_name(role));
    lfr_store_close(st);
    return rc;
}

static int print_sharing(const lfr_sharing *e, void *ctx)
{
    (void)ctx;
    printf("%lld\t%s\t%s\t%s\t%s\t%s\t%lld\t%s\t%s\n", (long long)e->id, e->shared_on, e->recipient,
           e->purpose, e->legal_basis, e->dataset, (long long)e->n_images, e->security,
           e->recorded_by);
    return 0;
}

static int cmd_sharing(int argc, char **argv)
{
    if (argc < 1) return usage_error("usage: lfr sharing add|list ...");
    const char *sub = argv[0];
    ropts o;
    lfr_store *st = NULL;
    lfr_user me;
    int rc;
    if (!strcmp(sub, "list")) {
        if ((rc = parse(argc - 1, argv + 1, "--user --from --to", 0, &o))) return rc;
        if ((rc = open_as(&o, &st, &me))) return rc;
        if (lfr_store_sharing_list(st, &me, o.from, o.to, print_sharing, NULL)) rc = lib_fail();
        lfr_store_close(st);
        return rc;
    }
    if (strcmp(sub, "add")) return usage_error("unknown command 'sharing %s'", sub);
    rc = parse(argc - 1, argv + 1,
               "--user --recipient --purpose --legal-basis --dataset --images --security --date", 0,
               &o);
    if (rc) return rc;
    const char *need[] = {o.recipient, o.purpose, o.legal_basis, o.dataset, o.images, o.security};
    const char *names[] = {"--recipient", "--purpose", "--legal-basis",
                           "--dataset",   "--images",  "--security"};
    for (int i = 0; i < 6; i++)
        if (!need[i]) return usage_error("sharing add needs %s", names[i]);
    char *end;
    errno = 0;
    long long n = strtoll(o.images, &end, 10);
    if (errno || end == o.images || *end || n < 0)
        return usage_error("--images must be a whole number >= 0, not '%s'", o.images);
    if ((rc = open_as(&o, &st, &me))) return rc;
    lfr_sharing e = {.shared_on = o.date,
                     .recipient = o.recipient,
                     .purpose = o.purpose,
                     .legal_basis = o.legal_basis,
                     .dataset = o.dataset,
                     .n_images = n,
                     .security = o.security};
    int64_t id;
    if (lfr_store_sharing_add(st, &me, &e, &id))
        rc = lib_fail();
    else
        printf("recorded sharing %lld\n", (long long)id);
    lfr_store_close(st);
    return rc;
}

static int print_evaluation(const lfr_evaluation *e, void *ctx)
{
    (void)ctx;
    printf("%lld\t%s\t%s\t%s\t%s\t%s\t%s\t%lld figures\t%s\n", (long long)e->id, e->run_at, e->kind,
           e->dataset, e->dataset_sha256, e->model, e->engine_version, (long long)e->n_metrics,
           e->recorded_by);
    return 0;
}

static int print_figure(const lfr_eval_metric *m, void *ctx)
{
    (void)ctx;
    printf("%s\t%s\t%.17g\t%.17g\t%.17g\t%.17g\t%lld\n", *m->group ? m->group : "(all)", m->metric,
           m->threshold, m->value, m->ci_low, m->ci_high, (long long)m->n);
    return 0;
}

static int cmd_evaluation(int argc, char **argv)
{
    if (argc < 1) return usage_error("usage: lfr evaluation list|show ...");
    const char *sub = argv[0];
    ropts o;
    lfr_store *st = NULL;
    lfr_user me;
    int rc;
    if (!strcmp(sub, "list")) {
        if ((rc = parse(argc - 1, argv + 1, "--user --from --to", 0, &o))) return rc;
        if ((rc = open_as(&o, &st, &me))) return rc;
        if (lfr_store_evaluation_list(st, &me, o.from, o.to, print_evaluation, NULL))
            rc = lib_fail();
        lfr_store_close(st);
        return rc;
    }
    if (strcmp(sub, "show")) return usage_error("unknown command 'evaluation %s'", sub);
    if ((rc = parse(argc - 1, argv + 1, "--user", 1, &o))) return rc;
    if (o.n_pos != 1) return usage_error("usage: lfr evaluation show ID --user NAME");
    char *end;
    errno = 0;
    long long id = strtoll(o.pos[0], &end, 10);
    if (errno || end == o.pos[0] || *end || id < 1)
        return usage_error("'%s' is not an evaluation id", o.pos[0]);
    if ((rc = open_as(&o, &st, &me))) return rc;
    printf("group\tmetric\tthreshold\tvalue\tci_low\tci_high\tn\n");
    if (lfr_store_evaluation_metrics(st, &me, id, print_figure, NULL)) rc = lib_fail();
    lfr_store_close(st);
    return rc;
}

static int parse_id(const char *text, long long *id_out)
{
    char *end;
    errno = 0;
    long long id = strtoll(text, &end, 10);
    if (errno || end == text || *end || id < 1) return usage_error("'%s' is not an id", text);
    *id_out = id;
    return 0;
}

static const char *subject_status(const lfr_subject *s)
{
    return s->removed_at[0] ? "removed" : s->expired ? "expired" : "active";
}

static int print_subject(const lfr_subject *s, void *ctx)
{
    (void)ctx;
    printf("%lld\t%s\t%s\t%s\t%lld images\texpires %s\t%s\n", (long long)s->id, s->reference,
           lfr_category_name(s->category), subject_status(s), (long long)s->n_images, s->expires_at,
           s->added_by);
    return 0;
}

static void print_image(const lfr_subject_image *im)
{
    printf(
        "image %lld\t%s\tcaptured %s\tsha256 %s\tmodel %.16s\tscore %.3f\tbox %.0f,%.0f,%.0fx%.0f"
        "\tadded %s by %s\t%s%s\n",
        (long long)im->id, lfr_provenance_name(im->provenance),
        im->capture_date[0] ? im->capture_date : "unknown", im->sha256, im->model_sha256,
        (double)im->score, (double)im->box_x, (double)im->box_y, (double)im->box_w,
        (double)im->box_h, im->added_at, im->added_by, im->deleted_at[0] ? "deleted " : "held",
        im->deleted_at);
}

typedef struct image_rows {
    lfr_subject_image *v;
    int n;
} image_rows;

static int keep_image(const lfr_subject_image *im, void *ctx)
{
    image_rows *r = ctx;
    lfr_subject_image *v = realloc(r->v, (size_t)(r->n + 1) * sizeof *v);
    if (!v) return fail("out of memory");
    r->v = v;
    r->v[r->n++] = *im;
    return 0;
}

static int subject_add(ropts *o)
{
    if (o->n_pos < 2)
        return usage_error("usage: lfr subject add REF IMAGE... --user NAME --category C"
                           " --reason R --expires T");
    if (!o->category) return usage_error("subject add needs --category C");
    if (!o->reason) return usage_error("subject add needs --reason R");
    if (!o->expires) return usage_error("subject add needs --expires T");
    lfr_category cat;
    if (lfr_category_parse(o->category, &cat)) return usage_error("%s", lfr_errmsg());
    lfr_provenance prov = LFR_PROVENANCE_CUSTODY_IMAGING;
    if (o->provenance && lfr_provenance_parse(o->provenance, &prov))
        return usage_error("%s", lfr_errmsg());
    lfr_image_source src[LFR_SUBJECT_MAX_IMAGES];
    int n = o->n_pos - 1;
    for (int i = 0; i < n; i++)
        src[i] = (lfr_image_source){o->pos[1 + i], prov, o->captured};
    lfr_store *st = NULL;
    lfr_user me;
    int rc = open_as(o, &st, &me);
    if (rc) return rc;
    lfr_engine_config cfg = lfr_engine_config_default();
    cfg.model_dir = o->models;
    lfr_engine *eng = NULL;
    if (lfr_engine_open(&cfg, &eng)) {
        rc = lib_fail();
    } else {
        lfr_subject_params p = {o->pos[0], cat, o->reason, o->expires};
        int64_t id;
        if (lfr_store_subject_add(st, &me, eng, &p, src, n, &id))
            rc = lib_fail();
        else
            printf("added subject %lld (%s) with %d image%s\n", (long long)id, o->pos[0], n,
                   n == 1 ? "" : "s");
    }
    lfr_engine_close(eng);
    lfr_store_close(st);
    return rc;
}

static int cmd_subject(int argc, char **argv)
{
    if (argc < 1) return usage_error("usage: lfr subject add|list|show|remove ...");
    if (argc >= 1 && !strcmp(argv[0], "import")) return lfr_cli_subject_import(argc - 1, argv + 1);
    const char *sub = argv[0];
    ropts o;
    lfr_store *st = NULL;
    lfr_user me;
    int rc;
    if (!strcmp(sub, "add")) {
        rc = parse(argc - 1, argv + 1,
                   "--user --category --reason --expires --provenance --captured --models",
                   1 + LFR_SUBJECT_MAX_IMAGES, &o);
        return rc ? rc : subject_add(&o);
    }
    if (!strcmp(sub, "list")) {
        if ((rc = parse(argc - 1, argv + 1, "--user", 0, &o))) return rc;
        if ((rc = open_as(&o, &st, &me))) return rc;
        if (lfr_store_subject_list(st, &me, 1, print_subject, NULL)) rc = lib_fail();
        lfr_store_close(st);
        return rc;
    }
    if (strcmp(sub, "show") && strcmp(sub, "remove"))
        return usage_error("unknown command 'subject %s'", sub);
    if ((rc = parse(argc - 1, argv + 1, "--user", 1, &o))) return rc;
    if (o.n_pos != 1) return usage_error("usage: lfr subject %s ID --user NAME", sub);
    long long id = 0;
    if ((rc = parse_id(o.pos[0], &id))) return rc;
    if ((rc = open_as(&o, &st, &me))) return rc;
    if (!strcmp(sub, "show")) {
        lfr_subject s;
        image_rows rows = {0};
        if (lfr_store_subject_show(st, &me, id, &s, keep_image, &rows)) {
            rc = lib_fail();
        } else {
            printf("subject %lld\nreference %s\ncategory %s\nreason %s\nstatus %s\n"
                   "added %s by %s\nexpires %s\n",
                   (long long)s.id, s.reference, lfr_category_name(s.category), s.reason,
                   subject_status(&s), s.added_at, s.added_by, s.expires_at);
            if (s.removed_at[0]) printf("removed %s by %s\n", s.removed_at, s.removed_by);
            for (int i = 0; i < rows.n; i++)
                print_image(&rows.v[i]);
        }
        free(rows.v);
    } else if (lfr_store_subject_remove(st, &me, id)) {
        rc = lib_fail();
    } else {
        printf("removed subject %lld; its images are deleted\n", id);
    }
    lfr_store_close(st);
    return rc;
}

static int cmd_store(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "migrate"))
        return usage_error("usage: lfr store migrate --from HOME --to CONNINFO [--home NEW]");
    ropts o;
    int rc = parse(argc - 1, argv + 1, "--from --to", 0, &o);
    if (rc) return rc;
    if (!o.from || !o.to) return usage_error("store migrate needs --from HOME and --to CONNINFO");
    /* The new home: --home when given, else beside the old one. */
    int given = 0;
    for (int i = 1; i < argc; i++)
        given |= !strcmp(argv[i], "--home");
    char home[4096];
    snprintf(home, sizeof home, "%s", given ? o.home : o.from);
    if (!given) {
        size_t n = strlen(home);
        while (n > 1 && home[n - 1] == '/')
            home[--n] = 0;
        snprintf(home + n, sizeof home - n, "-postgresql");
    }
    lfr_store_config cfg = {.database = o.to};
    lfr_store_copy_result r;
    if (lfr_store_copy(o.from, home, &cfg, &r)) return lib_fail();
    printf("%s %s into PostgreSQL, new home %s: %lld tables, %lld rows, %lld sealed media"
           " (%lld bytes), audit entries 1 to %llu as they were, then the copy's own entry;"
           " the copy verifies\n",
           r.already ? "already copied" : "copied", o.from, home, (long long)r.tables,
           (long long)r.rows, (long long)r.media, (long long)r.media_bytes,
           (unsigned long long)r.entries);
    return 0;
}

static int cmd_watchlist(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "stats")) return usage_error("usage: lfr watchlist stats ...");
    ropts o;
    lfr_store *st = NULL;
    lfr_user me;
    int rc = parse(argc - 1, argv + 1, "--user", 0, &o);
    if (rc) return rc;
    if ((rc = open_as(&o, &st, &me))) return rc;
    lfr_watchlist_stats w;
    if (lfr_store_watchlist_stats(st, &me, &w)) {
        rc = lib_fail();
    } else {
        int64_t ta = 0, te = 0, ti = 0;
        printf("category\tactive\texpired\tactive_images\n");
        for (int c = 1; c <= LFR_N_CATEGORIES; c++) {
            printf("%s\t%lld\t%lld\t%lld\n", lfr_category_name((lfr_category)c),
                   (long long)w.active[c], (long long)w.expired[c], (long long)w.active_images[c]);
            ta += w.active[c];
            te += w.expired[c];
            ti += w.active_images[c];
        }
        printf("total\t%lld\t%lld\t%lld\n", (long long)ta, (long long)te, (long long)ti);
        printf("provenance\tactive_images\n");
        for (int p = 1; p <= LFR_N_PROVENANCES; p++)
            printf("%s\t%lld\n", lfr_provenance_name((lfr_provenance)p),
                   (long long)w.images_by_provenance[p]);
        printf("expired_images\t%lld\nremoved_subjects\t%lld\n", (long long)w.expired_images,
               (long long)w.removed);
    }
    lfr_store_close(st);
    return rc;
}

int lfr_cli_records(const char *cmd, int argc, char **argv)
{
    if (!strcmp(cmd, "init")) return cmd_init(argc, argv);
    if (!strcmp(cmd, "user")) return cmd_user(argc, argv);
    if (!strcmp(cmd, "audit")) return lfr_cli_audit(argc, argv);
    if (!strcmp(cmd, "witness")) return lfr_cli_witness(argc, argv);
    if (!strcmp(cmd, "sharing")) return cmd_sharing(argc, argv);
    if (!strcmp(cmd, "evaluation")) return cmd_evaluation(argc, argv);
    if (!strcmp(cmd, "subject")) return cmd_subject(argc, argv);
    if (!strcmp(cmd, "watchlist")) return cmd_watchlist(argc, argv);
    if (!strcmp(cmd, "store")) return cmd_store(argc, argv);
    return lfr_cli_deploy(cmd, argc, argv);
}

int lfr_cli_login(const char *home, const char *user, lfr_store **st, lfr_user *me)
{
    ropts o;
    memset(&o, 0, sizeof o);
    o.home = home;
    if (!o.home) o.home = getenv("LFR_HOME");
    if (!o.home || !*o.home) o.home = "lfr-data";
    o.user = user;
    return open_as(&o, st, me);
}
