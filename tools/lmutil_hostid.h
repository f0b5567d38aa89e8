/* lmutil lmhostid's FlexLM forms (lmutil_hostid_flexlm.c). */
#ifndef LM_LMUTIL_HOSTID_H
#define LM_LMUTIL_HOSTID_H

/* Handles `lmhostid -ether|-hostname|-internet|-user|-display|-flexlm [-n]`
 * reading the machine below root (NULL: the default).  Returns -1 when argv
 * is not such a command line (the caller parses it), else the exit
 * status. */
int lm_lmhostid_flexlm(int argc, char **argv, const char *root);

#endif
