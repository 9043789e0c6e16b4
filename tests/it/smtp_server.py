"""An SMTP server for the e-mail tests: aiosmtpd on 127.0.0.1, STARTTLS required, AUTH
required (after TLS), every accepted message written to OUTDIR as JSON. The first FAIL_FIRST
messages are refused with 451 (a temporary failure) and listed in OUTDIR/refused.json.

usage: smtp_server.py OUTDIR PORT CERT KEY USER PASSWORD FAIL_FIRST
Prints "ready" when it accepts connections; runs until killed.
"""
import json
import os
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

outdir, port, cert, key, user, password, fail_first = sys.argv[1:8]
fail_left = [int(fail_first)]
lock = threading.Lock()


def message_id(content):
    for line in content.splitlines():
        if line.lower().startswith("message-id:"):
            return line.split(":", 1)[1].strip()
    return None


class Handler:
    async def handle_DATA(self, server, session, envelope):
        content = envelope.content.decode("utf8", "replace")
        with lock:
            if fail_left[0] > 0:
                fail_left[0] -= 1
                path = os.path.join(outdir, "refused.json")
                refused = json.load(open(path)) if os.path.exists(path) else []
                refused.append(message_id(content))
                json.dump(refused, open(path, "w"))
                return "451 4.3.0 Try again later"
            n = len([f for f in os.listdir(outdir) if f.startswith("msg")])
            record = {
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "tls": session.ssl is not None,
                "authenticated": bool(session.authenticated),
                "message_id": message_id(content),
                "data": content,
            }
            tmp = os.path.join(outdir, f".msg{n:04d}")
            with open(tmp, "w") as f:
                json.dump(record, f)
            os.rename(tmp, os.path.join(outdir, f"msg{n:04d}.json"))
        return "250 2.0.0 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
    # handled=False: aiosmtpd answers 535 itself (its default, handled=True, answers nothing).
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=int(port),
    tls_context=context,
    require_starttls=True,
    authenticator=authenticate,
    auth_required=True,
    auth_require_tls=True,
)
controller.start()
print("ready", flush=True)
threading.Event().wait()
