#!/usr/bin/env python3
"""A session hijack by an eavesdropper, for tests/integration/tls.sh.

usage: hijack.py plain|tls PROXY_PORT SERVER_PORT RECORDING

The victim opens a session through a recording proxy (tls_proxy.py record)
on PROXY_PORT, in plaintext or TLS, and takes a seat of "stats".  The
eavesdropper has only the recording: it looks there for the victim's
session secret (the SessionReply's 32 bytes, which it can recognise in a
plaintext frame) and, when found, resumes the session from a connection of
its own straight to SERVER_PORT.  Prints one line: "hijacked" when the
server let the stranger resume the victim's session, "secret not seen"
when the recording does not hold it.  Exit status 0 either way; 1 when the
scenario itself failed.
"""
import ssl
import sys
import time

import wirelib as w

mode, proxy_port, server_port, recording = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

victim = w.Client(proxy_port)
if mode == "tls":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the victim's own checks are not the point here
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    victim.sock = ctx.wrap_socket(victim.sock)
victim.hello()
session_id, secret = victim.open_session()
body, reply, _ = victim.checkout(1, b"stats")
if body != w.CHECKOUT_REPLY:
    print("the victim got no seat: %d %r" % (body, reply))
    sys.exit(1)
time.sleep(0.3)  # the proxy has written what it forwarded

seen = open(recording, "rb").read()
if secret not in seen:
    print("secret not seen (%d bytes recorded)" % len(seen))
    sys.exit(0)

thief = w.Client(server_port)
thief.hello()
body, reply, _ = thief.call(0, w.SESSION_OPEN,
                            w.field_varint(1, session_id) + w.field_bytes(2, secret))
print("hijacked" if body == w.SESSION_REPLY else "refused: %d %r" % (body, reply))
