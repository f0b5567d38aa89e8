/* One TLS connection through memory BIOs (see tls_conn.h). */
#include "config.h"

#include "core/tls_conn.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "core/error.h"
#include "core/tls.h"

struct lm_tls_conn {
	SSL *ssl;
	BIO *in;  /* ciphertext from the network, read by OpenSSL */
	BIO *out; /* ciphertext OpenSSL wrote, for the network */
	bool established;
};

struct lm_tls_conn *lm_tls_conn_new(SSL_CTX *ctx)
{
	struct lm_tls_conn *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->ssl = SSL_new(ctx);
	t->in = BIO_new(BIO_s_mem());
	t->out = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->in || !t->out) {
		SSL_free(t->ssl);
		BIO_free(t->in);
		BIO_free(t->out);
		free(t);
		return NULL;
	}
	/* An empty memory BIO means "wait for more", not end of file. */
	BIO_set_mem_eof_return(t->in, -1);
	BIO_set_mem_eof_return(t->out, -1);
	SSL_set_bio(t->ssl, t->in, t->out); /* the SSL owns both now */
	if (SSL_is_server(t->ssl))
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	return t;
}

void lm_tls_conn_free(struct lm_tls_conn *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	free(t);
}

SSL *lm_tls_conn_ssl(struct lm_tls_conn *t)
{
	return t->ssl;
}

bool lm_tls_conn_established(const struct lm_tls_conn *t)
{
	return t->established;
}

/* Whether an SSL call that returned ret only waits for more bytes. */
static bool wants_more(struct lm_tls_conn *t, int ret, char *why, size_t size)
{
	int err = SSL_get_error(t->ssl, ret);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		return true;
	if (err == SSL_ERROR_ZERO_RETURN) {
		snprintf(why, size, "the client ended TLS");
	} else {
		char detail[200];
		lm_tls_error_text(detail, sizeof detail);
		snprintf(why, size, "%s", detail);
	}
	return false;
}

int lm_tls_conn_feed(struct lm_tls_conn *t, const uint8_t *data, size_t len,
                     lm_tls_plain_fn deliver, void *arg, char *why, size_t size)
{
	ERR_clear_error();
	if (len > 0 && BIO_write(t->in, data, (int)len) != (int)len) {
		snprintf(why, size, "out of memory for TLS");
		return LMC_ENOMEM;
	}
	if (!t->established) {
		int ret = SSL_do_handshake(t->ssl);
		if (ret != 1)
			return wants_more(t, ret, why, size) ? 0 : LMC_ETLS;
		t->established = true;
	}
	/* One record's plaintext at most per read (RFC 8446 §5.1). */
	uint8_t plain[16384];
	for (;;) {
		int n = SSL_read(t->ssl, plain, sizeof plain);
		if (n <= 0)
			return wants_more(t, n, why, size) ? 0 : LMC_ETLS;
		int rc = deliver(arg, plain, (size_t)n);
		if (rc != 0)
			return rc;
	}
}

int lm_tls_conn_encrypt(struct lm_tls_conn *t, const uint8_t *data, size_t len)
{
	if (!t->established)
		return LMC_ETLS;
	ERR_clear_error();
	/* The output is a memory BIO: SSL_write takes everything at once. */
	int n = SSL_write(t->ssl, data, (int)len);
	if (n != (int)len) {
		ERR_clear_error();
		return LMC_ENOMEM;
	}
	return 0;
}

size_t lm_tls_conn_pending(const struct lm_tls_conn *t)
{
	return BIO_ctrl_pending(t->out);
}

size_t lm_tls_conn_take(struct lm_tls_conn *t, uint8_t *buf, size_t size)
{
	int n = BIO_read(t->out, buf, size > INT32_MAX ? INT32_MAX : (int)size);
	return n > 0 ? (size_t)n : 0;
}
