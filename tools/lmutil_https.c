/* The HTTPS POST of `lmutil activate --url` (lmutil_https.h): one request
 * to the vendor's `lmvendor serve`, over OpenSSL, one connection, closed
 * after the answer.
 *
 * The server is trusted one of three ways, the first given:
 *   --pin SHA256   the SHA-256 of the server's certificate (as `openssl
 *                  x509 -fingerprint -sha256` prints it): the vendor hands
 *                  it out with the codes, and no CA is involved
 *   --cacert FILE  a CA (or the server's own certificate) that must have
 *                  signed the server's, for the URL's host name or address
 *   neither        the system's CAs, for the URL's host name or address
 * A server that fails the check never sees the request (the code and the
 * token stay home). */
#include "config.h"

#include "tools/lmutil_https.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define ANSWER_MAX      (1 << 20)
#define TIMEOUT_SECONDS 30

__attribute__((format(printf, 3, 4))) static int say(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -1;
}

int lm_https_parse_url(const char *url, struct lm_https_url *u, char *err, size_t size)
{
	memset(u, 0, sizeof *u);
	if (strncmp(url, "https://", 8) != 0)
		return say(err, size, "--url '%.80s' is not https://HOST[:PORT][/PATH]", url);
	const char *host = url + 8, *end;
	if (*host == '[') {
		end = strchr(host, ']');
		if (!end)
			return say(err, size, "--url '%.80s': no ']' after the address", url);
		snprintf(u->host, sizeof u->host, "%.*s", (int)(end - host - 1), host + 1);
		end++;
	} else {
		end = host + strcspn(host, ":/");
		if ((size_t)(end - host) >= sizeof u->host)
			return say(err, size, "--url: the host name is too long");
		snprintf(u->host, sizeof u->host, "%.*s", (int)(end - host), host);
	}
	snprintf(u->port, sizeof u->port, "443");
	if (*end == ':') {
		size_t n = strspn(end + 1, "0123456789");
		long port = strtol(end + 1, NULL, 10);
		if (n == 0 || n > 5 || port < 1 || port > 65535)
			return say(err, size, "--url '%.80s': not a port", url);
		snprintf(u->port, sizeof u->port, "%.*s", (int)n, end + 1);
		end += 1 + n;
	}
	if (*end && *end != '/')
		return say(err, size, "--url '%.80s' is not https://HOST[:PORT][/PATH]", url);
	snprintf(u->base, sizeof u->base, "%s", *end ? end : "");
	size_t blen = strlen(u->base);
	while (blen && u->base[blen - 1] == '/')
		u->base[--blen] = '\0';
	if (!u->host[0] || strlen(end) >= sizeof u->base)
		return say(err, size, "--url '%.80s' is not https://HOST[:PORT][/PATH]", url);
	for (const char *p = u->host; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-:", *p))
			return say(err, size, "--url: '%.80s' is not a host name", u->host);
	for (const char *p = u->base; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return say(err, size, "--url: the path has a blank or control character");
	return 0;
}

/* "AB:CD:..." or "abcd...": 32 bytes of hex, into out. */
static int parse_pin(const char *pin, unsigned char out[32])
{
	size_t n = 0;
	for (const char *p = pin; *p; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) || n == 32)
			return -1;
		char byte[3] = {p[0], p[1], 0};
		out[n++] = (unsigned char)strtoul(byte, NULL, 16);
		p++;
	}
	return n == 32 ? 0 : -1;
}

static int connect_to(const struct lm_https_url *u, char *err, size_t size)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai, *a;
	int rc = getaddrinfo(u->host, u->port, &hints, &ai);
	if (rc)
		return say(err, size, "cannot resolve %s: %s", u->host, gai_strerror(rc));
	int fd = -1;
	for (a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = {TIMEOUT_SECONDS, 0};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return say(err, size, "cannot connect to %s port %s", u->host, u->port);
	return fd;
}

static int check_pin(SSL *ssl, const unsigned char want[32], char *err, size_t size)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	unsigned char got[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	int ok = cert && X509_digest(cert, EVP_sha256(), got, &len) && len == 32 &&
	         CRYPTO_memcmp(got, want, 32) == 0;
	X509_free(cert);
	if (ok)
		return 0;
	char hex[65] = "";
	for (unsigned i = 0; i < len && i < 32; i++)
		sprintf(hex + 2 * i, "%02X", got[i]);
	return say(err, size,
	           "the server's certificate is not the pinned one (its SHA-256 is %s): "
	           "nothing was sent",
	           hex);
}

static SSL_CTX *make_ctx(const struct lm_https_options *o, char *err, size_t size)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		say(err, size, "cannot set up TLS");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (o->pin) {
		/* The pin is the whole check: no CA says anything here. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	int loaded = o->cafile ? SSL_CTX_load_verify_locations(ctx, o->cafile, NULL)
	                       : SSL_CTX_set_default_verify_paths(ctx);
	if (loaded != 1) {
		SSL_CTX_free(ctx);
		say(err, size, "cannot read the CA file %s", o->cafile ? o->cafile : "(system)");
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

/* Sends all of len bytes of data. */
static int send_all(SSL *ssl, const char *data, size_t len)
{
	while (len) {
		int n = SSL_write(ssl, data, len > 1 << 30 ? 1 << 30 : (int)len);
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int lm_https_post(const struct lm_https_url *u, const char *path, const struct lm_https_options *o,
                  const char *body, size_t len, struct lm_https_answer *answer, char *err,
                  size_t size)
{
	unsigned char pin[32];
	memset(answer, 0, sizeof *answer);
	if (o->pin && parse_pin(o->pin, pin) != 0)
		return say(err, size, "--pin is not a SHA-256 (64 hex digits, colons allowed)");
	SSL_CTX *ctx = make_ctx(o, err, size);
	if (!ctx)
		return -1;
	int rc = -1, fd = connect_to(u, err, size);
	SSL *ssl = fd >= 0 ? SSL_new(ctx) : NULL;
	char *head = NULL, *buf = NULL;
	if (fd >= 0 && !ssl) {
		say(err, size, "cannot set up TLS");
		goto done;
	}
	if (!ssl)
		goto done;
	struct in6_addr ip;
	bool numeric =
	        inet_pton(AF_INET, u->host, &ip) == 1 || inet_pton(AF_INET6, u->host, &ip) == 1;
	if (!numeric)
		SSL_set_tlsext_host_name(ssl, u->host);
	if (!o->pin) {
		X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
		if (numeric)
			X509_VERIFY_PARAM_set1_ip_asc(param, u->host);
		else
			X509_VERIFY_PARAM_set1_host(param, u->host, 0);
	}
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		long verify = SSL_get_verify_result(ssl);
		if (verify != X509_V_OK)
			say(err, size, "the server %s is not trusted: %s (give --cacert or --pin)",
			    u->host, X509_verify_cert_error_string(verify));
		else
			say(err, size, "TLS with %s:%s failed: %s", u->host, u->port,
			    ERR_reason_error_string(ERR_peek_last_error()) ?: "no handshake");
		goto done;
	}
	if (o->pin && check_pin(ssl, pin, err, size) != 0)
		goto done;
	int hlen = asprintf(&head,
	                    "POST %s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
	                    "Content-Length: %zu\r\nConnection: close\r\n%s%s%s\r\n",
	                    u->base, path, u->host, len, o->token ? "Authorization: Bearer " : "",
	                    o->token ? o->token : "", o->token ? "\r\n" : "");
	if (hlen < 0) {
		head = NULL;
		say(err, size, "out of memory");
		goto done;
	}
	if (send_all(ssl, head, (size_t)hlen) != 0 || send_all(ssl, body, len) != 0) {
		say(err, size, "cannot send the request to %s", u->host);
		goto done;
	}
	size_t got = 0;
	buf = malloc(ANSWER_MAX + 1);
	if (!buf) {
		say(err, size, "out of memory");
		goto done;
	}
	for (;;) {
		int n = SSL_read(ssl, buf + got, (int)(ANSWER_MAX - got));
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == ANSWER_MAX) {
			say(err, size, "the server's answer is larger than %d bytes", ANSWER_MAX);
			goto done;
		}
	}
	buf[got] = '\0';
	char *blank = strstr(buf, "\r\n\r\n");
	unsigned status;
	if (!blank || sscanf(buf, "HTTP/1.%*[01] %u", &status) != 1) {
		say(err, size, "the server's answer is not HTTP");
		goto done;
	}
	answer->status = status;
	answer->body = strdup(blank + 4);
	answer->len = got - (size_t)(blank + 4 - buf);
	rc = answer->body ? 0 : say(err, size, "out of memory");
done:
	free(buf);
	free(head);
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(ctx);
	return rc;
}
