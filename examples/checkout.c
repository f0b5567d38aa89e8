/* checkout: the smallest application of liblmc.  It takes one seat of a
 * feature, works, and gives it back.
 *
 *   cc checkout.c $(pkg-config --cflags --libs lmc) -o checkout
 *   ./checkout acme.pub 27000@licserv stats 29.0 */
#include <inttypes.h>
#include <stdio.h>

#include <lmc.h>

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: checkout VENDOR.pub SOURCE FEATURE VERSION\n");
		return 2;
	}
	struct lmc_options o = {.vendor_pubkey = argv[1], .license_source = argv[2]};
	struct lmc_ctx *ctx;
	char err[256];
	uint64_t seat;

	/* No context yet when lmc_open fails: err says why. */
	if (lmc_open(&ctx, &o, err, sizeof err) != 0) {
		fprintf(stderr, "checkout: %s\n", err);
		return 1;
	}
	int rc = lmc_checkout(ctx, argv[3], argv[4], 1, 5000, &seat);
	if (rc != 0) {
		fprintf(stderr, "checkout: %s (%s): %s\n", lmc_last_error(ctx), lmc_errname(rc),
		        lmc_errhint(rc));
		lmc_close(ctx);
		return 1;
	}
	printf("granted %s %s, handle %" PRIu64 "\n", argv[3], argv[4], seat);
	/* ... the licensed work ... */
	rc = lmc_checkin(ctx, seat);
	lmc_close(ctx);
	return rc == 0 ? 0 : 1;
}
