/*
 * lfr subject import: bulk enrolment from a manifest (tools/lfr/import.c).
 */
#ifndef LFR_CLI_IMPORT_H
#define LFR_CLI_IMPORT_H

/* Run `lfr subject import`; argv holds the arguments after "import"
 * (MANIFEST [--models DIR] --user NAME [--home DIR]). Returns the exit
 * status: 0 when every subject was enrolled or skipped, 1 when any was
 * refused or the run stopped on an error, 2 for a usage error. */
int lfr_cli_subject_import(int argc, char **argv);

#endif
