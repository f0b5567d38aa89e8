#!/usr/bin/env python3
"""A second, independent speaker of the lmd wire protocol, for tests.

It encodes the few Envelope fields it needs by hand (protobuf varints and
length-delimited fields, proto/lm.proto) so that the server is exercised by
a client that shares none of its code, and it can send what a correct
client never would: garbage, oversized and truncated frames, retried
request ids.

usage: wire.py PORT SCENARIO      (exit 0 when the server behaved)
"""
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
SCENARIO = sys.argv[2]


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def envelope(request_id, body_field, body):
    return field_varint(1, 1) + field_varint(2, request_id) + field_bytes(body_field, body)


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def parse(data):
    """Decodes one message level into {field: [values]}."""
    fields, i = {}, 0
    while i < len(data):
        key, i = read_varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(data, i)
        elif wire == 2:
            n, i = read_varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wire)
        fields.setdefault(num, []).append(value)
    return fields


def read_varint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def zigzag(n):
    return (n >> 1) ^ -(n & 1)


class Client:
    def __init__(self):
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self):
        """The next reply as (body field number, parsed body), or None at EOF."""
        head = self.recv_exact(4)
        if head is None:
            return None
        payload = self.recv_exact(struct.unpack(">I", head)[0])
        env = parse(payload)
        body = [n for n in env if n >= 10][0]
        return body, parse(env[body][0]), env.get(2, [0])[0]

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def call(self, request_id, body_field, body):
        self.send_raw(frame(envelope(request_id, body_field, body)))
        return self.recv()

    def hello(self):
        body, _, _ = self.call(0, 10, field_bytes(1, b"wire") + field_bytes(2, b"testhost") +
                               field_varint(4, 4242))
        assert body == 11, "no HelloReply: %d" % body

    def open_session(self):
        body, reply, _ = self.call(0, 12, b"")
        assert body == 13, "no SessionReply: %d %r" % (body, reply)
        return reply[1][0], reply[2][0]

    def checkout(self, request_id, feature, count=1):
        return self.call(request_id, 14, field_bytes(1, feature) + field_bytes(2, b"1.0") +
                         field_varint(3, count))


def expect_error(reply, code=None):
    assert reply is not None, "connection closed without an ErrorReply"
    body, fields, _ = reply
    assert body == 26, "expected an ErrorReply, got body %d" % body
    got = zigzag(fields[1][0])
    assert code is None or got == code, "error code %d, expected %d" % (got, code)
    return fields[2][0].decode() if 2 in fields else ""


def expect_closed(c):
    c.sock.settimeout(5)
    try:
        while c.recv() is not None:
            pass
    except ConnectionResetError:
        pass


LMC_EPROTO, LMC_ETOOLARGE, LMC_ENOSEATS = -16, -22, -13

if SCENARIO == "garbage":
    # A frame whose payload is not an Envelope: an error, then the close.
    c = Client()
    c.send_raw(frame(b"\xff\xfe\xfd garbage \x00\x01"))
    expect_error(c.recv(), LMC_EPROTO)
    expect_closed(c)
elif SCENARIO == "oversized":
    # A header announcing 2 GiB: refused from the header alone.
    c = Client()
    c.hello()
    c.send_raw(struct.pack(">I", 0x7FFFFFFF) + b"x" * 10)
    msg = expect_error(c.recv(), LMC_ETOOLARGE)
    assert "exceeds" in msg, msg
    expect_closed(c)
elif SCENARIO == "truncated":
    # Half a frame, then the client vanishes: nothing to answer, no harm.
    c = Client()
    c.send_raw(struct.pack(">I", 100) + b"half")
    c.sock.close()
elif SCENARIO == "unknown":
    # A body this server does not know (field 99): an error and a close.
    c = Client()
    c.hello()
    c.send_raw(frame(field_varint(1, 1) + field_varint(2, 7) + field_bytes(99, b"")))
    expect_error(c.recv(), LMC_EPROTO)
    expect_closed(c)
elif SCENARIO == "no-hello":
    c = Client()
    msg = expect_error(c.checkout(1, b"stats"), LMC_EPROTO)
    assert "Hello" in msg, msg
    expect_closed(c)
elif SCENARIO == "retry":
    # The same request id twice is one checkout; a new id is another.
    c = Client()
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
else:
    sys.exit("unknown scenario " + SCENARIO)
print("ok", SCENARIO)
