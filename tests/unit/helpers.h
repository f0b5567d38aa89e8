/* Helpers shared by the unit tests: scratch directories, files, and fake
 * machines for the lock code probes. */
#ifndef LM_TEST_HELPERS_H
#define LM_TEST_HELPERS_H

/* A new empty directory under $TMPDIR (or /tmp); free() the result. */
char *th_tempdir(void);
/* Removes path and everything below it. */
void th_rmtree(const char *path);
/* Writes text to dir/name, creating the parent directories. */
void th_write(const char *dir, const char *name, const char *text);
/* path = dir "/" name, in a static buffer rotating over 8 slots. */
const char *th_path(const char *dir, const char *name);

/* A simulated machine: each field NULL leaves that criterion unreadable. */
struct th_machine {
	const char *machine_id;
	const char *product_uuid;
	const char *macs[4]; /* physical interfaces eth0..eth3 */
	const char *hostname;
	const char *disk_uuid; /* filesystem UUID of / */
	const char *cpu_model; /* "model name" */
};
/* Lays out the files machine.c reads (see core/machine.h) under root. */
void th_make_machine(const char *root, const struct th_machine *m);
/* A typical machine, so that tests can change one criterion at a time. */
struct th_machine th_machine_default(void);

#endif
