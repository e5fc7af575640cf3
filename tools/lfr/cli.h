/*
 * Subcommands of the `lfr` command that live outside main.c. Each
 * dispatcher returns -1 when `cmd` is not one of its commands, else the
 * process exit status (0 ok, 1 error, 2 usage error).
 */
#ifndef LFR_CLI_H
#define LFR_CLI_H

/* init, user, audit, ... (the records: src/store, src/audit). */
int lfr_cli_records(const char *cmd, int argc, char **argv);

/* Their lines for the usage screen. */
extern const char lfr_cli_records_usage[];

#endif
