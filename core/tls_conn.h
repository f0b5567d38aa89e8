/* One TLS connection driven through memory BIOs (issue 16), for an event
 * loop: lmd's client port, and lmbench's clients.  libuv reads the
 * ciphertext, lm_tls_conn_feed() hands it to OpenSSL and the plaintext it
 * yields to the connection's frame reader;
 * frames to send go in with lm_tls_conn_encrypt(), and what OpenSSL wants
 * on the wire (handshake messages, records, alerts) comes out with
 * lm_tls_conn_take().  Nothing here touches a socket, so the event loop
 * never blocks on TLS and the same code can be fed by a fuzzer.
 *
 * Only TLS connections carry this state: a plaintext connection holds a
 * NULL pointer, and an idle TLS one gives its record buffers back
 * (SSL_MODE_RELEASE_BUFFERS, core/tls.h). */
#ifndef LM_TLS_CONN_H
#define LM_TLS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct lm_tls_conn;

/* Receives plaintext from lm_tls_conn_feed(); a non-zero return stops the
 * feed and is returned by it. */
typedef int (*lm_tls_plain_fn)(void *arg, const uint8_t *data, size_t len);

/* A TLS connection of ctx (core/tls.h): the server side for a server
 * context, else the client side, which starts its handshake at the first
 * lm_tls_conn_feed() (with no bytes).  NULL when out of memory. */
struct lm_tls_conn *lm_tls_conn_new(SSL_CTX *ctx);
void lm_tls_conn_free(struct lm_tls_conn *t);

/* Takes len bytes from the network: advances the handshake, then hands
 * every byte of plaintext they complete to deliver.  Returns 0, deliver's
 * code, or LMC_ETLS (not TLS, a failed handshake, a bad record: the
 * connection must be closed once lm_tls_conn_take() has given out the
 * alert) with a sentence in why. */
int lm_tls_conn_feed(struct lm_tls_conn *t, const uint8_t *data, size_t len,
                     lm_tls_plain_fn deliver, void *arg, char *why, size_t size);
/* Whether the handshake is over.  A client checks the server's key then
 * (lm_tls_peer_key()). */
bool lm_tls_conn_established(const struct lm_tls_conn *t);
/* The SSL, for lm_tls_peer_key(). */
SSL *lm_tls_conn_ssl(struct lm_tls_conn *t);
/* Encrypts len bytes for sending; only once established.  Returns 0,
 * LMC_ENOMEM or LMC_ETLS. */
int lm_tls_conn_encrypt(struct lm_tls_conn *t, const uint8_t *data, size_t len);
/* Bytes waiting to be sent. */
size_t lm_tls_conn_pending(const struct lm_tls_conn *t);
/* Moves up to size of them into buf; returns how many. */
size_t lm_tls_conn_take(struct lm_tls_conn *t, uint8_t *buf, size_t size);

#endif
