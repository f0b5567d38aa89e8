#!/usr/bin/env python3
"""Someone between a client and lmd, for tests/integration/tls.sh.

usage: tls_proxy.py record LISTEN_PORT TARGET_PORT FILE
           forwards every byte both ways and appends what it saw to FILE
           (an on-path eavesdropper)
       tls_proxy.py mitm LISTEN_PORT TARGET_PORT CERT KEY
           ends the client's TLS with its own certificate and key, and
           talks TLS to lmd itself, passing the plaintext between them (a
           man in the middle without the server's key)
"""
import socket
import ssl
import sys
import threading

mode, listen_port, target_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = open(sys.argv[4], "ab", buffering=0) if mode == "record" else None
lock = threading.Lock()


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if seen:
                with lock:
                    seen.write(data)
            dst.sendall(data)
    except (OSError, ssl.SSLError):
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client):
    try:
        upstream = socket.create_connection(("127.0.0.1", target_port))
        if mode == "mitm":
            server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_side.load_cert_chain(sys.argv[4], sys.argv[5])
            client = server_side.wrap_socket(client, server_side=True)
            client_side = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            client_side.check_hostname = False
            client_side.verify_mode = ssl.CERT_NONE
            upstream = client_side.wrap_socket(upstream)
    except (OSError, ssl.SSLError) as e:
        print("proxy: %s" % e, flush=True)
        client.close()
        return
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    pump(upstream, client)


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", listen_port))
listener.listen(64)
print("ready", flush=True)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
