#!/usr/bin/env python3
"""A TCP forwarder from LISTEN_PORT to TARGET_PORT on 127.0.0.1, for tests
that need to cut a client's connection while the server stays up: kill the
proxy and every connection through it drops at once, or send it SIGUSR1 to
drop every connection while it keeps listening (clients reconnect at once).

usage: proxy.py LISTEN_PORT TARGET_PORT
"""
import signal
import socket
import sys
import threading

listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        live.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


live = set()


def drop_all(signum, frame):
    for s in list(live):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


signal.signal(signal.SIGUSR1, drop_all)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen_port))
server.listen(64)
while True:
    client, _ = server.accept()
    try:
        upstream = socket.create_connection(("127.0.0.1", target_port))
    except OSError:
        client.close()
        continue
    live.update((client, upstream))
    for a, b in ((client, upstream), (upstream, client)):
        threading.Thread(target=pump, args=(a, b), daemon=True).start()
