#!/usr/bin/env python3
"""A hostile or foreign peer on lmd's replication (raft) port, for tests.

It writes the handshakes by hand, from the layout documented in
lmd/transport.h and from libraft 0.15's stock TCP handshake, sharing no code
with lmd, and reports what the server did with each one.  Every scenario
ends once the server has closed the connection (or after a generous bound,
which then fails the scenario): lmd must refuse all of them.

usage: raft_peer.py PORT SCENARIO

  stock-nonul   libraft's stock handshake with an 8-byte address and no NUL
                (overflowed a heap buffer inside libraft 0.15)
  stock-huge    libraft's stock handshake announcing a 200 MiB address, then
                as much of it as the server takes
  garbage       4 KiB of random bytes
  drip          an lmd handshake one byte every 0.3 s
  silent        connect and say nothing
  flood N       N silent connections at once; prints how many the server
                closed straight away (over its limit of handshakes)
  foreign       a well-formed lmd handshake from another cluster
  zero-id       an lmd handshake from raft id 0
  long-address  an lmd handshake announcing a 200-byte address
  bad-address   an lmd handshake whose address holds a control byte
"""
import os
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
SCENARIO = sys.argv[2]
BOUND = 30  # seconds; only to never hang, not a timing assertion

# lmd's handshake (lmd/transport.h), all integers little-endian:
#   0  8  magic "lmd-raft"
#   8  2  version 2
#  10  2  address length n
#  12  4  zero
#  16 16  configuration identity
#  32  8  sender's raft id
#  40 64  address: n printable bytes, then zeros
# 104 16  cluster id, zeros when not known
MAGIC = b"lmd-raft"
SIZE = 120


def lmd_handshake(config, raft_id, address, length=None, cluster_id=bytes(16)):
    n = len(address) if length is None else length
    head = MAGIC + struct.pack("<HHI", 2, n, 0) + config + struct.pack("<Q", raft_id)
    return head + address.ljust(64, b"\0")[:64] + cluster_id


# libraft 0.15's own handshake (src/uv_tcp_connect.c): protocol 1, the
# sender's id, the length of the address buffer, then the address.
def stock_handshake(raft_id, length, address):
    return struct.pack("<QQQ", 1, raft_id, length) + address


def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.settimeout(BOUND)
    return s


def wait_closed(s):
    """Reads until the server closes; returns the bytes it sent."""
    got = b""
    end = time.time() + BOUND
    while time.time() < end:
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            return got
        except socket.timeout:
            break
        if not data:
            return got
        got += data
    sys.exit("%s: the server kept the connection open" % SCENARIO)


def send_then_wait(data):
    s = connect()
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return
    got = wait_closed(s)
    if got:
        sys.exit("%s: the server answered %d bytes before closing" % (SCENARIO, len(got)))


def main():
    if SCENARIO == "stock-nonul":
        send_then_wait(stock_handshake(2, 8, b"AAAAAAAA"))
    elif SCENARIO == "stock-huge":
        s = connect()
        sent = 0
        chunk = b"1" * (1 << 20)
        try:
            s.sendall(stock_handshake(2, 200 << 20, b""))
            while sent < (200 << 20):
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        else:
            wait_closed(s)
        print("sent %d MiB of the announced 200 before the server closed" % (sent >> 20))
    elif SCENARIO == "garbage":
        send_then_wait(os.urandom(4096))
    elif SCENARIO == "drip":
        s = connect()
        data = lmd_handshake(os.urandom(16), 2, b"127.0.0.1:1")
        start = time.time()
        try:
            for b in data[:-1]:
                s.sendall(bytes([b]))
                time.sleep(0.3)
        except (BrokenPipeError, ConnectionResetError):
            print("the server closed the dripping peer after %.1f s" % (time.time() - start))
            return
        sys.exit("drip: the server waited for a whole dripped handshake")
    elif SCENARIO == "silent":
        s = connect()
        start = time.time()
        wait_closed(s)
        print("the server closed the silent peer after %.1f s" % (time.time() - start))
    elif SCENARIO == "flood":
        n = int(sys.argv[3])
        socks = [connect() for _ in range(n)]
        time.sleep(0.5)
        closed = 0
        for s in socks:
            s.settimeout(0.1)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except ConnectionResetError:
                closed += 1
            except socket.timeout:
                pass
        print("%d of %d connections closed at once" % (closed, n))
        for s in socks:
            s.settimeout(BOUND)
            wait_closed(s)
    elif SCENARIO == "foreign":
        send_then_wait(lmd_handshake(os.urandom(16), 2, b"127.0.0.1:1"))
    elif SCENARIO == "zero-id":
        send_then_wait(lmd_handshake(bytes(16), 0, b"127.0.0.1:1"))
    elif SCENARIO == "long-address":
        send_then_wait(lmd_handshake(bytes(16), 2, b"1" * 64, length=200))
    elif SCENARIO == "bad-address":
        send_then_wait(lmd_handshake(bytes(16), 2, b"127.0.0.1:1\n2"))
    else:
        sys.exit("unknown scenario " + SCENARIO)


main()
