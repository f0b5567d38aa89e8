"""Signed remote admin requests, spoken by hand (wirelib), as an attacker and
as a real admin would: usage  admin_signed.py PORT GOOD_KEY OTHER_KEY

GOOD_KEY is listed in lmd's --admin-keys as "alice"; OTHER_KEY, made the same
way, is not.  Every request is an lmreread (harmless to repeat).  Prints one
line per case; exits non-zero on the first surprise.
"""
import sys

from cryptography.hazmat.primitives import serialization

import wirelib as w

ADMIN_CHALLENGE_REQUEST, ADMIN_CHALLENGE, SIGNED_ADMIN_REQUEST = 30, 31, 32
REREAD_REQUEST, ADMIN_REPLY = 24, 25
LMC_ENOTADMIN, LMC_EADMINSIG = -32, -33
PREFIX = b"lmd admin request v1\0"

port = int(sys.argv[1])


def load(path):
    text = open(path, "rb").read()
    pem = text[text.index(b"-----BEGIN"):]
    return serialization.load_pem_private_key(pem, password=None)


good, other = load(sys.argv[2]), load(sys.argv[3])


def connect():
    c = w.Client(port)
    c.hello()
    return c


def call(c, envelope):
    c.send_raw(w.frame(envelope))
    return c.recv()


def challenge(c, rid):
    body, fields, _ = c.call(rid, ADMIN_CHALLENGE_REQUEST, b"")
    assert body == ADMIN_CHALLENGE, (body, fields)
    assert len(fields[1][0]) == 32, fields
    return fields[1][0]


def reread(rid):
    return w.envelope(rid, REREAD_REQUEST, b"")


def signed(rid, name, inner, sig):
    body = w.field_bytes(1, name) + w.field_bytes(2, inner) + w.field_bytes(3, sig)
    return w.envelope(rid, SIGNED_ADMIN_REQUEST, body)


def refused(reply, code, case):
    try:
        message = w.expect_error(reply, code)
    except AssertionError as e:
        sys.exit("%s: %s: %r" % (case, e, reply))
    print("%s: refused (%d): %s" % (case, code, message))


def accepted(reply, case):
    body, fields, _ = reply
    if body != ADMIN_REPLY:
        sys.exit("%s: not accepted: %r" % (case, reply))
    print("%s: accepted: %s" % (case, fields[2][0].decode()))


# Loopback alone no longer grants anything.
c = connect()
refused(call(c, reread(1)), LMC_ENOTADMIN, "unsigned over loopback")

# A signature with no challenge asked for on this connection.
inner = reread(2)
refused(call(c, signed(2, b"alice", inner, good.sign(PREFIX + b"\0" * 32 + inner))),
        LMC_EADMINSIG, "no challenge")

# A key the server does not list.
nonce = challenge(c, 3)
inner = reread(3)
refused(call(c, signed(3, b"mallory", inner, other.sign(PREFIX + nonce + inner))),
        LMC_EADMINSIG, "unknown key")

# Alice's name, another key's signature.
nonce = challenge(c, 4)
inner = reread(4)
refused(call(c, signed(4, b"alice", inner, other.sign(PREFIX + nonce + inner))),
        LMC_EADMINSIG, "wrong key")

# Signed over one request, carrying another.
nonce = challenge(c, 5)
sig = good.sign(PREFIX + nonce + reread(5))
refused(call(c, signed(5, b"alice", reread(55), sig)), LMC_EADMINSIG, "tampered request")

# The real thing.
nonce = challenge(c, 6)
inner = reread(6)
frame = signed(6, b"alice", inner, good.sign(PREFIX + nonce + inner))
accepted(call(c, frame), "valid signature")

# Replayed: on the same connection (its challenge is spent), on the same
# connection after a new challenge, and on a new connection.
refused(call(c, frame), LMC_EADMINSIG, "replay, same connection")
challenge(c, 7)
refused(call(c, frame), LMC_EADMINSIG, "replay after a new challenge")
c.sock.close()
c = connect()
challenge(c, 8)
refused(call(c, frame), LMC_EADMINSIG, "replay, new connection")
c.sock.close()
