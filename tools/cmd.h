/* The lmutil subcommands, each in its own file: lmutil_<name>.c. */
#ifndef LM_CMD_H
#define LM_CMD_H

/* Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand) and returns the process exit status. */
int lm_cmd_lmhostid(int argc, char **argv);
int lm_cmd_lmdiag(int argc, char **argv);
int lm_cmd_checkout(int argc, char **argv);
int lm_cmd_lmstat(int argc, char **argv);
int lm_cmd_lmavail(int argc, char **argv);
int lm_cmd_lmdown(int argc, char **argv);
int lm_cmd_lmremove(int argc, char **argv);
int lm_cmd_named_user(int argc, char **argv);
int lm_cmd_lmreread(int argc, char **argv);
int lm_cmd_lmreplace(int argc, char **argv);
int lm_cmd_lmoptcheck(int argc, char **argv);
int lm_cmd_report(int argc, char **argv);
int lm_cmd_activate_request(int argc, char **argv);
int lm_cmd_activate(int argc, char **argv);
int lm_cmd_deactivate(int argc, char **argv);
int lm_cmd_admin_keygen(int argc, char **argv);

#endif
