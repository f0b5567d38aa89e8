/* TLS on the client port: the contexts and the pin (see tls.h). */
#include "config.h"

#include "core/tls.h"

#include <stdbool.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "core/error.h"

/* TLS 1.3 only: its handshake encrypts the certificate (an on-path
 * observer does not even learn which server key answered) and it has no
 * downgrade to older versions to worry about. */
static int only_tls13(SSL_CTX *ctx)
{
	return SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 &&
	       SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1;
}

/* A self-signed certificate for key.  Its dates are wide and its name is
 * plain: a client checks the key and nothing else (tls.h). */
static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	bool ok = x && name && RAND_bytes(serial, sizeof serial) == 1;
	serial[0] &= 0x7f; /* a positive serial, as RFC 5280 §4.1.2.2 wants */
	ok = ok && (bn = BN_bin2bn(serial, sizeof serial, NULL)) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) && X509_set_version(x, 2) == 1 &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -86400L) &&
	     X509_time_adj_ex(X509_getm_notAfter(x), 36500, 0, NULL) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"lmd", -1,
	                                -1, 0) == 1 &&
	     X509_set_subject_name(x, name) == 1 && X509_set_issuer_name(x, name) == 1 &&
	     X509_set_pubkey(x, key) == 1 && X509_sign(x, key, NULL) > 0; /* Ed25519: no digest */
	BN_free(bn);
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* ctx presents a certificate of key, made here, and proves it holds key:
 * 0, or LMC_EKEY with why in msg. */
static int use_identity(SSL_CTX *ctx, EVP_PKEY *key, char *msg, size_t size)
{
	X509 *cert = self_signed(key);
	if (!cert || SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		char why[200];
		lm_tls_error_text(why, sizeof why);
		snprintf(msg, size, "cannot make a TLS certificate from the server key: %s", why);
		X509_free(cert);
		return LMC_EKEY;
	}
	X509_free(cert);
	return 0;
}

int lm_tls_server_ctx_new(EVP_PKEY *key, SSL_CTX **out, char *msg, size_t size)
{
	*out = NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(msg, size, "out of memory for TLS");
		return LMC_ENOMEM;
	}
	if (!only_tls13(ctx)) {
		snprintf(msg, size, "this OpenSSL cannot be limited to TLS 1.3");
		SSL_CTX_free(ctx);
		return LMC_EKEY;
	}
	if (use_identity(ctx, key, msg, size) != 0) {
		SSL_CTX_free(ctx);
		return LMC_EKEY;
	}
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Idle TLS connections give their record buffers back: ten thousand
	 * idle clients must not hold 30 KB each. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	*out = ctx;
	return 0;
}

int lm_tls_client_ctx_new(SSL_CTX **out)
{
	*out = NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !only_tls13(ctx)) {
		SSL_CTX_free(ctx);
		return LMC_ENOMEM;
	}
	/* No chain to verify: the pin is the trust (tls.h). */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	*out = ctx;
	return 0;
}

/* The chain of a self-signed certificate never verifies: the pin does
 * (tls.h).  TLS 1.3 still checks that the peer signed the handshake with the
 * certificate's key. */
static int any_certificate(int preverify_ok, X509_STORE_CTX *store)
{
	(void)preverify_ok;
	(void)store;
	return 1;
}

int lm_tls_peer_ctx_new(EVP_PKEY *key, bool server, SSL_CTX **out, char *msg, size_t size)
{
	*out = NULL;
	if (server) {
		int rc = lm_tls_server_ctx_new(key, out, msg, size);
		if (rc == 0)
			SSL_CTX_set_verify(*out, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			                   any_certificate);
		return rc;
	}
	SSL_CTX *ctx = NULL;
	if (lm_tls_client_ctx_new(&ctx) != 0) {
		snprintf(msg, size, "out of memory for TLS");
		return LMC_ENOMEM;
	}
	if (use_identity(ctx, key, msg, size) != 0) {
		SSL_CTX_free(ctx);
		return LMC_EKEY;
	}
	*out = ctx;
	return 0;
}

int lm_tls_peer_key(SSL *ssl, uint8_t key[LM_SERVER_KEY_LEN])
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	EVP_PKEY *pub = cert ? X509_get0_pubkey(cert) : NULL;
	size_t len = LM_SERVER_KEY_LEN;
	if (!pub || EVP_PKEY_get_id(pub) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(pub, key, &len) != 1 || len != LM_SERVER_KEY_LEN)
		return LMC_EKEY;
	return 0;
}

void lm_tls_error_text(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();
	if (e == 0)
		snprintf(buf, size, "no detail");
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
}
