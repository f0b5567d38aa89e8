/* placeholder */ typedef int lm_placeholder_store;
