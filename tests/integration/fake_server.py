"""An emulator of lmd for tests/integration/fake_server.sh: it grants every
Checkout under a genuine, vendor-signed license line it was given, the way
an attacker replaying a customer's license file would.

  fake_server.py PORT MODE LINES.json

LINES.json maps a feature name to {"text": canonical line, "sig": hex of
the vendor's signature} and may hold "recorded": a real lmd's CheckoutReply
fields (text, sig, grant_signature, grant_time_ms in hex/int).  MODE:
  replay    the feature's genuine line, no grant signature
  recorded  the recorded reply of the real server, grant signature and all
  forged    the line, with a grant signed by a key of the emulator's own
Prints "ready" once it listens."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wirelib  # noqa: E402

port, mode, lines = int(sys.argv[1]), sys.argv[2], json.load(open(sys.argv[3]))
own_key = None
if mode == "forged":
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    own_key = Ed25519PrivateKey.generate()


def grant(fields, session_id):
    feature = fields[1][0].decode()
    if mode == "recorded":
        r = lines["recorded"]
        return {"text": r["text"].encode(), "signature": bytes.fromhex(r["sig"]),
                "grant_signature": bytes.fromhex(r["grant_signature"]),
                "grant_time_ms": r["grant_time_ms"]}
    line = lines[feature]
    g = {"text": line["text"].encode(), "signature": bytes.fromhex(line["sig"])}
    if own_key:
        nonce = fields[5][0] if 5 in fields else b""
        g["grant_time_ms"] = int(time.time() * 1000)
        g["grant_signature"] = own_key.sign(wirelib.grant_text(
            g["text"], fields[3][0], session_id, nonce, g["grant_time_ms"]))
    return g


server = wirelib.FakeServer(port, grant)
print("ready", flush=True)
server.serve_forever()
