"""A second, independent speaker of the lmd wire protocol, for tests.

It encodes the few Envelope fields it needs by hand (protobuf varints and
length-delimited fields, proto/lm.proto) so that the server is exercised by
a client that shares none of its code, and it can send what a correct
client never would: garbage, oversized and truncated frames, retried
request ids, floods.  wire.py (scenarios) and flood.py use it.
"""
import socket
import struct

# Envelope body field numbers (proto/lm.proto).
HELLO, HELLO_REPLY, SESSION_OPEN, SESSION_REPLY = 10, 11, 12, 13
CHECKOUT, CHECKOUT_REPLY, HEARTBEAT, HEARTBEAT_REPLY = 14, 15, 18, 19
STATUS_REQUEST, STATUS_REPLY, ERROR_REPLY = 20, 21, 26
SESSION_CLOSE = 27

LMC_EPROTO, LMC_ETOOLARGE, LMC_ENOSEATS = -16, -22, -13
LMC_ENOSESSION, LMC_ELIMIT = -23, -25


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
    def __init__(self, port, host="127.0.0.1", source=None, timeout=10):
        """source: the local address to connect from (any 127/8 address
        on loopback), so that a test can play several client hosts."""
        self.sock = socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0) if source else None)

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




# ---- The server side: enough of lmd to be an emulator ----

CHECKIN, CHECKIN_REPLY = 16, 17
SESSION_CLOSE_REPLY = 28

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def code32_bytes(text, n):
    """The n bytes a printed code holds (core/code32.h: Crockford base32,
    hyphens, a check symbol last)."""
    symbols = [CROCKFORD.index(ch) for ch in text.upper().replace("-", "")][:-1]
    bits = "".join(format(s, "05b") for s in symbols)
    return bytes(int(bits[i * 8:i * 8 + 8], 2) for i in range(n))


def signature_bytes(text):
    """A SIGN= value (core/license_words.c): the two 32-byte halves of the
    signature, each a code with its own check symbol, printed as one."""
    symbols = text.upper().replace("-", "")
    half = len(symbols) // 2
    return code32_bytes(symbols[:half], 32) + code32_bytes(symbols[half:], 32)


def grant_text(line, count, session_id, nonce, time_ms):
    """core/grant.h: the bytes a server signs for a grant."""
    import hashlib
    return ("lmd-grant-v1 line=%s count=%d session=%016x nonce=%s time=%d" %
            (hashlib.sha256(line).hexdigest(), count, session_id, nonce.hex(),
             time_ms)).encode()


class FakeServer:
    """Speaks lmd's client protocol on a listening socket and grants
    whatever grant(checkout fields, session id) returns as CheckoutReply
    fields: a dict with text, signature (the vendor's), and optionally
    count, grant_signature and grant_time_ms.  One connection at a time,
    until stop()."""

    def __init__(self, port, grant):
        self.grant = grant
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(8)
        self.handle = 0
        self.session_id = 0x5eed

    def serve_forever(self):
        while True:
            conn, _ = self.listener.accept()
            try:
                self.serve(conn)
            except (OSError, ValueError, IndexError):
                pass
            finally:
                conn.close()

    def serve(self, conn):
        c = Client.__new__(Client)
        c.sock = conn
        conn.settimeout(30)
        while True:
            reply = c.recv()
            if reply is None:
                return
            body, fields, request_id = reply
            out = self.answer(body, fields)
            if out is not None:
                conn.sendall(frame(envelope(request_id, out[0], out[1])))

    def answer(self, body, fields):
        if body == HELLO:
            return HELLO_REPLY, field_bytes(1, b"lmd 0.1.0") + field_varint(2, 65536)
        if body == SESSION_OPEN:
            return SESSION_REPLY, (field_varint(1, self.session_id) +
                                   field_bytes(2, b"s" * 32) + field_varint(4, 10000) +
                                   field_varint(5, 30000) + field_varint(7, 25000))
        if body == CHECKOUT:
            self.handle += 1
            g = self.grant(fields, self.session_id)
            license = field_bytes(1, g["text"]) + field_bytes(2, g["signature"])
            out = (field_varint(1, self.handle) +
                   field_varint(2, g.get("count", fields[3][0])) + field_bytes(3, license))
            if "grant_signature" in g:
                out += field_varint(4, g["grant_time_ms"]) + field_bytes(5, g["grant_signature"])
            return CHECKOUT_REPLY, out
        if body == CHECKIN:
            return CHECKIN_REPLY, field_varint(1, fields[1][0])
        if body == HEARTBEAT:
            return HEARTBEAT_REPLY, b""
        if body == SESSION_CLOSE:
            return SESSION_CLOSE_REPLY, field_varint(1, 0)
        return None
