#!/usr/bin/env python3
"""Hostile load against one lmd, from one loopback address, bounded in count
and time: what a runaway script or an attacker on the client network does.

usage: flood.py PORT SOURCE MODE [ARGS...]
  hold N KIND SECONDS   opens N connections of KIND and keeps them until the
                        server closes them or SECONDS pass; prints a JSON
                        line: how many connected, were answered LMC_ELIMIT,
                        were closed by the server, and when.  KIND:
                          silent    connect and say nothing
                          partial   Hello, then 60 KiB of a 64 KiB frame
                          drip      Hello, then one byte of a frame a second
                          idle      Hello, then nothing (no session)
  storm SECONDS         opens sessions as fast as one connection at a time
                        allows, for SECONDS; prints how many the server
                        opened and how many it refused with LMC_ELIMIT.
  two-sessions          Hello, SessionOpen twice on one connection, close.
  hello-twice USER2     Hello, SessionOpen, Hello again as USER2.
"""
import json
import os
import selectors
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wirelib import *  # noqa: E402,F403

PORT, SOURCE, MODE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ARGS = sys.argv[4:]


def hello_frame(user=b"flood"):
    return frame(envelope(0, HELLO, field_bytes(1, user) + field_bytes(2, b"floodhost") +
                          field_varint(4, os.getpid())))


def connect():
    s = socket.socket()
    s.bind((SOURCE, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", PORT))
    return s


def first_error_code(data):
    """The code of the first ErrorReply among the frames in data, or None."""
    i = 0
    while len(data) - i >= 4:
        n = struct.unpack(">I", data[i:i + 4])[0]
        if len(data) - i - 4 < n:
            break
        env = parse(data[i + 4:i + 4 + n])
        if ERROR_REPLY in env:
            return zigzag(parse(env[ERROR_REPLY][0])[1][0])
        i += 4 + n
    return None


def hold(count, kind, seconds):
    sel = selectors.DefaultSelector()
    socks, received, result = [], {}, {
        "kind": kind, "wanted": count, "connected": 0, "refused_at_connect": 0,
        "limit_answers": 0, "closed_by_server": 0, "last_close_s": None}
    start = time.monotonic()
    for _ in range(count):
        try:
            s = connect()
        except OSError:
            result["refused_at_connect"] += 1
            continue
        result["connected"] += 1
        try:
            if kind in ("partial", "drip", "idle"):
                s.sendall(hello_frame())
            if kind == "partial":
                s.sendall(struct.pack(">I", 65000) + b"p" * 60000)
        except OSError:
            pass
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
        received[s] = b""
    open_socks = set(socks)
    next_drip = time.monotonic()
    # A well-formed header announcing 1000 bytes, then the body byte by byte.
    drip_bytes = struct.pack(">I", 1000) + b"d" * 1000
    dripped = {s: 0 for s in socks}
    while open_socks and time.monotonic() - start < seconds:
        if kind == "drip" and time.monotonic() >= next_drip:
            for s in list(open_socks):
                try:
                    s.send(drip_bytes[dripped[s]:dripped[s] + 1])
                    dripped[s] += 1
                except OSError:
                    pass
            next_drip += 1.0
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, OSError):
                chunk = b""
            if chunk:
                received[s] += chunk
                continue
            sel.unregister(s)
            open_socks.discard(s)
            result["closed_by_server"] += 1
            result["last_close_s"] = round(time.monotonic() - start, 2)
            if first_error_code(received[s]) == LMC_ELIMIT:
                result["limit_answers"] += 1
    result["still_open"] = len(open_socks)
    for s in socks:
        s.close()
    print(json.dumps(result), flush=True)


def storm(seconds):
    opened = refused = other = 0
    c = None
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        # The server may close a storming connection (its frames over the
        # address's budget while other floods run): open another.
        try:
            if c is None:
                c = socket.socket()
                c.bind((SOURCE, 0))
                c.connect(("127.0.0.1", PORT))
                wrapper = Client.__new__(Client)
                wrapper.sock = c
                c.settimeout(10)
                wrapper.send_raw(hello_frame())
                wrapper.recv()
            reply = wrapper.call(0, SESSION_OPEN, b"")
        except ConnectionError:
            reply = None
        if reply is None:
            c.close()
            c = None
            other += 1
            continue
        body, fields, _ = reply
        if body == SESSION_REPLY:
            opened += 1
        elif body == ERROR_REPLY and zigzag(fields[1][0]) == LMC_ELIMIT:
            refused += 1
        else:
            other += 1
    print(json.dumps({"opened": opened, "refused_limit": refused, "other": other,
                      "seconds": seconds}), flush=True)


def two_sessions():
    """Two sessions opened on one connection, then the connection closes:
    the first session must not keep a pointer to it (a use after free when
    it expires, seen on the spine)."""
    c = Client(PORT, source=SOURCE)
    c.hello()
    first, _ = c.open_session()
    second, _ = c.open_session()
    assert first != second, "the second SessionOpen returned the first session"
    c.sock.close()
    print("sessions", first, second)


def hello_twice(user2):
    c = Client(PORT, source=SOURCE)
    c.hello()
    c.open_session()
    msg = expect_error(c.call(0, HELLO, field_bytes(1, user2.encode()) +
                              field_bytes(2, b"otherhost") + field_varint(4, 7)), LMC_EPROTO)
    assert "already" in msg, msg
    # The connection and its session still work after the refusal.
    body, _, _ = c.call(0, HEARTBEAT, b"")
    assert body == HEARTBEAT_REPLY, "no HeartbeatReply after the refused Hello: %d" % body
    print("ok hello-twice")


if MODE == "hold":
    hold(int(ARGS[0]), ARGS[1], float(ARGS[2]))
elif MODE == "storm":
    storm(float(ARGS[0]))
elif MODE == "two-sessions":
    two_sessions()
elif MODE == "hello-twice":
    hello_twice(ARGS[0])
else:
    sys.exit("unknown mode " + MODE)
