/* TLS on the client port (issue 16): what lmd and liblmc share.
 *
 * The trust is the pin, not a certificate authority: each lmd makes, at
 * start, a self-signed X.509 certificate for its Ed25519 identity key
 * (DATA/server-key, core/server_key_file.h), and a client that knows the
 * key pinned on the SERVER line it dialled (KEY=) accepts the connection
 * only when the certificate's public key is that key.  TLS 1.3's
 * CertificateVerify proves the server holds the private half, so nothing
 * else in the certificate matters: no names, no dates, no chain.
 *
 * One port serves both: a TLS connection starts with a handshake record
 * (LM_TLS_RECORD_HANDSHAKE), and a plaintext frame of lmd's protocol never
 * does, since its first byte is the high byte of a length that
 * LM_FRAME_MAX keeps far below 0x16000000 (proto/frame.h). */
#ifndef LM_TLS_H
#define LM_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "core/limits.h" /* LM_SERVER_KEY_LEN */

/* The first byte of a TLS ClientHello: the record type "handshake". */
#define LM_TLS_RECORD_HANDSHAKE 0x16

/* A server context for TLS 1.3 only, with a self-signed certificate made
 * from key (an Ed25519 private key; the caller keeps its reference).  No
 * session tickets: a client reconnects rarely and a ticket would only cost
 * memory.  Returns 0 with *out (SSL_CTX_free it), or LMC_EKEY / LMC_ENOMEM
 * with a sentence in msg. */
int lm_tls_server_ctx_new(EVP_PKEY *key, SSL_CTX **out, char *msg, size_t size);

/* A client context for TLS 1.3 only.  It verifies no chain: the caller
 * compares lm_tls_peer_key() with its pin after the handshake.  Returns 0
 * with *out, or LMC_ENOMEM. */
int lm_tls_client_ctx_new(SSL_CTX **out);

/* Mutual TLS between the servers of a triad (lmd's replication port,
 * lmd/transport_tls.c): both sides present the self-signed certificate of
 * their identity key.  server: a context that asks the dialler for its
 * certificate and refuses a handshake without one; else a dialler's
 * context that sends ours when asked.  Neither verifies a chain: the
 * caller compares lm_tls_peer_key() with its pins once the handshake is
 * over.  Returns 0 with *out, or LMC_EKEY / LMC_ENOMEM with a sentence in
 * msg. */
int lm_tls_peer_ctx_new(EVP_PKEY *key, bool server, SSL_CTX **out, char *msg, size_t size);

/* The raw Ed25519 public key of the peer's certificate, which the
 * handshake proved the peer holds.  Returns 0, or LMC_EKEY when the peer
 * sent no certificate or one for another kind of key. */
int lm_tls_peer_key(SSL *ssl, uint8_t key[LM_SERVER_KEY_LEN]);

/* The first of OpenSSL's queued errors as a sentence (for logs and error
 * messages), and the queue emptied; "no detail" when there is none. */
void lm_tls_error_text(char *buf, size_t size);

#endif
