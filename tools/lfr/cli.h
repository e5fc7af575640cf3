/*
 * Subcommands of the `lfr` command that live outside main.c. Each
 * dispatcher returns -1 when `cmd` is not one of its commands, else the
 * process exit status (0 ok, 1 error, 2 usage error).
 */
#ifndef LFR_CLI_H
#define LFR_CLI_H

/* init, user, audit, ... (the records: src/store, src/audit). */
int lfr_cli_records(const char *cmd, int argc, char **argv);

/* audit and witness (audit.c): verify, list, checkpoint, prove, reanchor;
 * witness init, cosign, show. */
int lfr_cli_audit(int argc, char **argv);
int lfr_cli_witness(int argc, char **argv);

/* deployment, alert, policy, retention, report (deploy.c). */
int lfr_cli_deploy(const char *cmd, int argc, char **argv);

/* lfr run (run.c): the live pipeline over a deployment's cameras. */
int lfr_cli_run(int argc, char **argv);

/* Open the home (NULL: $LFR_HOME, else ./lfr-data) and log in as `user`
 * (password from $LFR_PASSWORD or the terminal). 0, else the exit status
 * after a message. */
typedef struct lfr_store lfr_store;
typedef struct lfr_user lfr_user;
int lfr_cli_login(const char *home, const char *user, lfr_store **st, lfr_user *me);

/* "lfr: <message>" on stderr; exit status 1 (main.c). */
int lfr_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "lfr: <message> (lfr help)" on stderr; exit status 2 (records.c). */
int lfr_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Their lines for the usage screen. */
extern const char lfr_cli_records_usage[];
extern const char lfr_cli_audit_usage[];

#endif
