/*
 * The record-keeping subcommands (init, users, audit, subjects,
 * deployments, alerts, retention, reports). None yet.
 */
#include "cli.h"

const char lfr_cli_records_usage[] = "";

int lfr_cli_records(const char *cmd, int argc, char **argv)
{
    (void)cmd;
    (void)argc;
    (void)argv;
    return -1;
}
