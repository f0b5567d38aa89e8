/* libFuzzer harness for lmd's TLS entry (core/tls_conn.h): the bytes a
 * client sends after the 0x16 that made lmd start TLS.
 *
 * The input goes to a server side TLS connection made as lmd makes it (a
 * self-signed certificate from an Ed25519 key, TLS 1.3 only), cut in
 * uneven pieces as the network would.  Whatever it is, the feed must
 * either wait for more, hand out plaintext (which it never does before a
 * handshake completes, and no fuzzer can complete one), or refuse with
 * LMC_ETLS; what TLS wants to send back is drained as lmd drains it.
 *
 *   make fuzz && ./tests/fuzz/fuzz_tls -max_total_time=60 CORPUS_DIR
 *
 * Inputs of odd length go to the raft port's context instead
 * (lm_tls_peer_ctx_new(), lmd/transport_tls.c), which asks the dialler for
 * its certificate: only OpenSSL reads what a peer sends before the handshake
 * is over, so this is all of that port's parsing of a stranger's bytes.
 *
 * tests/fuzz/corpus_tls holds a real TLS 1.3 ClientHello to start from. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "core/error.h"
#include "core/tls.h"
#include "core/tls_conn.h"

static SSL_CTX *client_port, *raft_port;

static int plain_seen(void *arg, const uint8_t *data, size_t len)
{
	(void)data;
	(void)len;
	*(bool *)arg = true;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!client_port) {
		EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		char msg[300];
		if (!key || lm_tls_server_ctx_new(key, &client_port, msg, sizeof msg) != 0 ||
		    lm_tls_peer_ctx_new(key, true, &raft_port, msg, sizeof msg) != 0)
			abort();
		EVP_PKEY_free(key);
	}
	struct lm_tls_conn *t = lm_tls_conn_new(size % 2 ? raft_port : client_port);
	if (!t)
		return 0;
	bool plain = false;
	size_t off = 0, piece = 1;
	while (off < size) {
		size_t n = size - off < piece ? size - off : piece;
		char why[240];
		int rc = lm_tls_conn_feed(t, data + off, n, plain_seen, &plain, why, sizeof why);
		uint8_t out[4096];
		while (lm_tls_conn_take(t, out, sizeof out) > 0)
			;
		if (rc != 0) {
			if (rc != LMC_ETLS && rc != LMC_ENOMEM)
				abort();
			break;
		}
		off += n;
		piece = piece * 3 + 1;
	}
	if (plain && !lm_tls_conn_established(t))
		abort();
	lm_tls_conn_free(t);
	return 0;
}
