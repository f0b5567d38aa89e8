/* Every limit of the project, each with the error code that refuses what
 * exceeds it, so that a reader sees in one place what lmd, liblmc and the
 * tools accept.  A limit is enforced exactly where the input is parsed (the
 * file named with each group); everything past that point relies on it.
 *
 * Limits that only one lmd module knows, that no other folder shares, stay
 * next to that module and are listed at the end of this file. */
#ifndef LM_LIMITS_H
#define LM_LIMITS_H

/* ---- License files (core/license.c, core/license_line.c) ----
 * A field over its limit is LMC_ESYNTAX with a sentence naming the line; a
 * line, a file or a text field too long is LMC_ETOOLARGE. */

/* Feature, vendor and package names: LMC_ESYNTAX. */
#define LM_NAME_MAX 64
/* Versions ("29.0"): LMC_ESYNTAX. */
#define LM_VERSION_MAX 16
/* A SERVER line's host: LMC_ESYNTAX. */
#define LM_HOST_MAX 255
/* SERVER lines in one file: none (uncounted lines only), one, or three
 * redundant servers (a triad); a fourth is LMC_ESYNTAX.  Also the lock
 * codes of a line's SERVER_CODES, one per server. */
#define LM_LICENSE_SERVERS_MAX 3
/* NOTICE, HOST_DESC, SN, AUTH and SUPERSEDE, with their NUL:
 * LMC_ETOOLARGE. */
#define LM_TEXT_MAX 256
/* A PACKAGE line's COMPONENTS, with its NUL: sized for real suites (Siemens'
 * NX bundle lists 27 components in 700 bytes); a whole line is at most
 * LM_LINE_MAX, so no longer list could be read anyway (LMC_ETOOLARGE). */
#define LM_LICENSE_COMPONENTS_MAX 4096
/* One logical line, continuations joined: LMC_ETOOLARGE. */
#define LM_LINE_MAX 4096
/* Lines (with comments and blank lines) in one file: LMC_ETOOLARGE. */
#define LM_LICENSE_LINES_MAX 4096
/* The largest file lm_license_load reads: the longest file the limits above
 * allow, which no real license file comes near (LMC_ETOOLARGE). */
#define LM_LICENSE_FILE_MAX ((size_t)LM_LINE_MAX * LM_LICENSE_LINES_MAX)
/* Words on one line: more than any line can use, so that a line of a
 * thousand words is refused before it costs anything (LMC_ETOOLARGE). */
#define LM_LICENSE_TOKENS_MAX 64
/* Vendor-defined lower-case attributes (asset_info=...) on one line, and
 * the length of their names: LMC_ETOOLARGE. */
#define LM_LICENSE_ATTRS_MAX    8
#define LM_LICENSE_ATTR_KEY_MAX 32
/* Seats of a counted line, and NAMED_USERS=: LMC_ESYNTAX. */
#define LM_LICENSE_COUNT_MAX       1000000
#define LM_LICENSE_NAMED_USERS_MAX 1000000
/* BORROW=: a borrowed seat comes back within a year at most (LMC_ESYNTAX). */
#define LM_LICENSE_BORROW_HOURS_MAX 8760
/* TOLERANCE=: lock codes record at most LM_CRIT_COUNT criteria, so at most
 * 5 may differ (LMC_ESYNTAX). */
#define LM_LICENSE_TOLERANCE_MAX 5

/* OVERDRAFT=n: seats beyond a line's count. */
#define LM_LICENSE_OVERDRAFT_MAX 1000000
/* Dates (core/date.c): years outside 1970..9999 are LMC_ESYNTAX. */
#define LM_DATE_YEAR_MIN 1970
#define LM_DATE_YEAR_MAX 9999
/* An Ed25519 signature: exactly this many bytes (LMC_EBADCODE as text,
 * LMC_EBADSIG when it does not verify). */
#define LM_SIG_LEN 64
/* A key file (core/key.c): a PEM key is a few hundred bytes; anything much
 * larger is not a key (LMC_EKEY). */
#define LM_KEY_FILE_MAX 65536
/* A server identity key (core/server_key.h): the raw Ed25519 public key,
 * exactly this many bytes; its text form, with hyphens and the NUL, at most
 * LM_SERVER_KEY_TEXT_MAX (LMC_EBADCODE). */
#define LM_SERVER_KEY_LEN      32
#define LM_SERVER_KEY_TEXT_MAX 80

/* ---- Codes people type (core/code32.c, core/lockcode.c) ---- */

/* Symbols of one code, without the check symbol: LMC_ETOOLARGE when
 * writing, LMC_EBADCODE when reading. */
#define LM_CODE32_MAX_SYMBOLS 64
/* Longest printed lock code, with hyphens and the NUL: LMC_ETOOLARGE. */
#define LM_LOCKCODE_TEXT_MAX 64
/* Longest raw criterion value kept for display (longer ones are cut; no
 * error). */
#define LM_CRIT_VALUE_MAX 256

/* ---- The wire protocol (proto/envelope_check.c, proto/frame.c) ----
 * Each received Envelope is checked against these before anyone reads it. */

/* Largest payload of a request (a frame a client sends): LMC_ETOOLARGE. */
#define LM_FRAME_MAX (64 * 1024)
/* Largest payload of a reply.  Only a StatusReply listing every holder of a
 * big site needs more than LM_FRAME_MAX, so a client that never asks for
 * status reads with an LM_FRAME_MAX reader: LMC_ETOOLARGE. */
#define LM_FRAME_REPLY_MAX (4 * 1024 * 1024)
/* Identifiers, in bytes (all LMC_EPROTO).  Names and versions share the
 * license file's limits, so that anything a license can name fits. */
#define LM_WIRE_FEATURE_MAX  LM_NAME_MAX    /* 64 */
#define LM_WIRE_VERSION_MAX  LM_VERSION_MAX /* 16 */
#define LM_WIRE_HOST_MAX     LM_HOST_MAX    /* 255 */
#define LM_WIRE_USER_MAX     255
#define LM_WIRE_DISPLAY_MAX  255
#define LM_WIRE_LOCKCODE_MAX (LM_LOCKCODE_TEXT_MAX - 1) /* 63 */
/* A checkout's vendor data (Checkout.vendor_data, lmc_set_checkout_data;
 * core/vendor_data.h): printable ASCII, spaces allowed.  Refused with
 * LMC_EINVAL by liblmc, LMC_EPROTO on the wire. */
#define LM_WIRE_VENDOR_DATA_MAX 64
/* A client's LM_PROJECT (Hello.project). */
#define LM_WIRE_PROJECT_MAX 255
/* An IP address as text: INET6_ADDRSTRLEN without its NUL. */
#define LM_WIRE_IP_MAX 45
/* "port@host". */
#define LM_WIRE_ADDRESS_MAX (LM_HOST_MAX + 6)
/* Free text for people: error messages, server versions. */
#define LM_WIRE_TEXT_MAX 1024
/* A signed license line's canonical text, and its signature. */
#define LM_WIRE_LICENSE_MAX LM_LINE_MAX /* 4096 */
#define LM_WIRE_SIG_LEN     LM_SIG_LEN  /* 64 */
/* Checkout.nonce (core/grant.h's LM_GRANT_NONCE_LEN): absent or exactly. */
#define LM_WIRE_NONCE_LEN 16
/* CheckoutReply.pool_lines: the lines added up for a grant larger than one
 * line, at most this many (each up to LM_WIRE_LICENSE_MAX, within
 * LM_FRAME_MAX): LMC_EPROTO past it. */
#define LM_WIRE_POOL_LINES_MAX 8
/* The digest of a pool state in a ServerStatus: exactly this long. */
#define LM_WIRE_DIGEST_LEN 32
/* A cluster id: 16 random bytes the first leader of a new cluster makes
 * (lmd/pool.h, SetClusterId), the same size wherever the id goes: the
 * pool, DATA/cluster-id (as hex), the raft handshake (lmd/transport.h) and
 * the wire (HelloReply, SessionReply and ServerStatus carry exactly this
 * many bytes; another length is LMC_EPROTO). */
#define LM_CLUSTER_ID_SIZE 16
/* The configuration identity in the raft handshake: a digest of what the
 * servers are configured to be (lmd/daemon.c), cut to this many bytes. */
#define LM_CONFIG_ID_SIZE 16
/* Admin requests (lmd/admin_auth.h): a challenge's nonce and an lmd
 * process's instance id are exactly this long (LMC_EPROTO otherwise); an
 * admin key's name is a word of at most LM_ADMIN_KEY_NAME_MAX characters;
 * --admin-keys lists at most LM_ADMIN_KEYS_MAX keys (LMC_ETOOLARGE). */
#define LM_ADMIN_NONCE_LEN    32
#define LM_ADMIN_INSTANCE_LEN 16
#define LM_ADMIN_KEY_NAME_MAX 64
#define LM_ADMIN_KEYS_MAX     64
/* What an admin request's signature covers first, NUL included, before the
 * nonce and the request: the words make a signature over anything else (a
 * license line) useless as an admin request's. */
#define LM_ADMIN_SIGNED_PREFIX "lmd admin request v1"
/* The path of the admin socket: what a sockaddr_un holds. */
#define LM_ADMIN_SOCKET_PATH_MAX 107
/* A session secret: exactly this long. */
#define LM_SESSION_SECRET_LEN 32
/* Seats in one checkout: 1..LM_CHECKOUT_COUNT_MAX (LMC_EPROTO). */
#define LM_CHECKOUT_COUNT_MAX 1000000
/* Longest a checkout may wait in the server's queue (LMC_EPROTO). */
#define LM_CHECKOUT_WAIT_MAX_MS (3600u * 1000u)

/* ---- Where clients look for licenses (proto/address.c, client/source.c) ---- */

/* Longest "port@[host]" with its NUL: LMC_ETOOLARGE. */
#define LM_ADDRESS_TEXT_MAX (LM_HOST_MAX + 9)
/* Servers and files one source may name: LMC_ETOOLARGE beyond. */
#define LM_SOURCE_SERVERS_MAX 16
#define LM_SOURCE_FILES_MAX   16

/* ---- A client's session (client/session*.c) ---- */

/* Checkouts one session holds at a time: LMC_ELIMIT beyond. */
#define LM_SESSION_SEATS_MAX 4096
/* Redirects followed in one round of connection attempts (then the next
 * server is tried; no error of its own). */
#define LM_SESSION_REDIRECTS_MAX 3

/* ---- Sentences for people ----
 * Not limits of input: a longer sentence is cut, never refused. */

/* A reason kept with a result (a parse error, a denial). */
#define LM_MESSAGE_MAX 256
/* A reason that names a server or a file besides (a connection's error, a
 * lost seat's cause). */
#define LM_MESSAGE_LONG_MAX 320

/* ---- Limits of lmd alone, kept next to their module ----
 * lmd/pool.h        LM_POOL_SESSIONS_MAX, LM_POOL_HANDLES_PER_SESSION_MAX
 *                   (LMC_ELIMIT)
 * lmd/pool_internal.h  LM_POOL_RECORD_MAX, LM_POOL_KEY_MAX (store records)
 * lmd/server.h      LM_SERVER_CONNECTIONS_MAX, LM_SERVER_FD_RESERVE,
 *                   LM_SERVER_PENDING_MAX (connections refused or closed)
 * lmd/store.h       LM_STORE_MAP_SIZE, LM_STORE_RESERVE_MIN (LMC_ESTORE)
 * lmd/datadir.h     LM_DATADIR_PATH_MAX, LM_DATADIR_SEEN_MAX
 * lmd/transport.h   LM_TRANSPORT_ADDRESS_MAX, LM_TRANSPORT_HANDSHAKES_MAX */

#endif
