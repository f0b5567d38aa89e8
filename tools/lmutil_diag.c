/* placeholder */ typedef int lm_placeholder_lmutil_diag;
