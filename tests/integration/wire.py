#!/usr/bin/env python3
"""Scenarios of hostile or unusual clients, spoken with wirelib.

usage: wire.py PORT SCENARIO      (exit 0 when the server behaved)
"""
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wirelib import *  # noqa: E402,F403

PORT = int(sys.argv[1])
SCENARIO = sys.argv[2]


if SCENARIO == "garbage":
    # A frame whose payload is not an Envelope: an error, then the close.
    c = Client(PORT)
    c.send_raw(frame(b"\xff\xfe\xfd garbage \x00\x01"))
    expect_error(c.recv(), LMC_EPROTO)
    expect_closed(c)
elif SCENARIO == "oversized":
    # A header announcing 2 GiB: refused from the header alone.
    c = Client(PORT)
    c.hello()
    c.send_raw(struct.pack(">I", 0x7FFFFFFF) + b"x" * 10)
    msg = expect_error(c.recv(), LMC_ETOOLARGE)
    assert "exceeds" in msg, msg
    expect_closed(c)
elif SCENARIO == "truncated":
    # Half a frame, then the client vanishes: nothing to answer, no harm.
    c = Client(PORT)
    c.send_raw(struct.pack(">I", 100) + b"half")
    c.sock.close()
elif SCENARIO == "unknown":
    # A body this server does not know (field 99): an error and a close.
    c = Client(PORT)
    c.hello()
    c.send_raw(frame(field_varint(1, 1) + field_varint(2, 7) + field_bytes(99, b"")))
    expect_error(c.recv(), LMC_EPROTO)
    expect_closed(c)
elif SCENARIO == "no-hello":
    c = Client(PORT)
    msg = expect_error(c.checkout(1, b"stats"), LMC_EPROTO)
    assert "Hello" in msg, msg
    expect_closed(c)
elif SCENARIO == "retry":
    # The same request id twice is one checkout; a new id is another.
    c = Client(PORT)
    c.hello()
    c.open_session()
    body1, r1, rid = c.checkout(5, b"stats")
    assert body1 == 15 and rid == 5, "checkout not granted: %d %r" % (body1, r1)
    body2, r2, _ = c.checkout(5, b"stats")
    assert body2 == 15, "retry not answered as granted: %d %r" % (body2, r2)
    assert r1[1] == r2[1], "retry got another handle: %r %r" % (r1[1], r2[1])
    # An older request id is stale: refused, nothing granted.
    expect_error(c.checkout(4, b"stats"), LMC_EPROTO)
    body3, r3, _ = c.checkout(6, b"stats")
    assert body3 == 15 and r3[1] != r1[1], "a new request id must get a new handle"
    print("handles", r1[1][0], r3[1][0])
    # Hold both until the test looks, then let the session expire.
    time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 0)
elif SCENARIO == "long-identity":
    # The longest identity the wire allows: the session's command (over
    # 900 bytes) is committed whole, as lmstat then shows.  Prints "held"
    # and holds the seat for argv[3] seconds, then closes the session.
    c = Client(PORT)
    body, _, _ = c.call(0, 10, field_bytes(1, b"u" * 255) + field_bytes(2, b"h" * 255) +
                        field_bytes(3, b"d" * 255) + field_varint(4, 4242) +
                        field_bytes(5, b"L" * 63) + field_bytes(6, b"v" * 16))
    assert body == 11, "no HelloReply: %d" % body
    c.open_session()
    body, r, _ = c.checkout(1, b"stats")
    assert body == 15, "checkout not granted: %d %r" % (body, r)
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
    body, r, _ = c.call(2, 27, b"")
    assert body == 28, "no SessionCloseReply: %d %r" % (body, r)
elif SCENARIO == "checkout-reread":
    # A checkout on its way while the shell rereads a license without the
    # feature (lmd delays its commit callbacks: LM_TEST_COMMIT_DELAY_MS):
    # the seat was charged, so the reply grants it, with the line it was
    # charged under.  Prints "sent", then waits for the reply.
    c = Client(PORT, timeout=30)
    c.hello()
    c.open_session()
    c.send_raw(frame(envelope(1, 14, field_bytes(1, b"stats") + field_bytes(2, b"1.0") +
                              field_varint(3, 1))))
    print("sent", flush=True)
    body, r, rid = c.recv()
    assert body == 15 and rid == 1, "the charged seat was answered %d %r" % (body, r)
    text = parse(r[3][0])[1][0]
    assert text.split()[:2] == [b"FEATURE", b"stats"], "granted under another line: %r" % text
    print("granted", text.decode())
else:
    sys.exit("unknown scenario " + SCENARIO)
print("ok", SCENARIO)
