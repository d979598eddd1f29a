"""A STUB of GitHub's App installation-token API (there is no GitHub here, and no maintained
local implementation of it). It checks what GitHub checks: the RS256 signature of the App JWT
against the App's public key, its issuer and lifetime, and records the requested repositories
and permissions; it revokes tokens on DELETE /installation/token.

Usage: python github_app_stub.py PORT LOG PUBLIC_KEY_PEM APP_ID INSTALLATION_ID
Needs `cryptography` (installed with moto in the tests' AWS virtualenv).
"""
import base64
import json
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

PORT, LOG, PUB, APP_ID, INSTALLATION = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
public_key = serialization.load_pem_public_key(open(PUB, "rb").read())
issued = set()


def b64(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def check_jwt(auth):
    if not auth.startswith("Bearer "):
        return "no bearer JWT"
    parts = auth[7:].split(".")
    if len(parts) != 3:
        return "not a JWT"
    header, claims = json.loads(b64(parts[0])), json.loads(b64(parts[1]))
    if header.get("alg") != "RS256":
        return "alg is not RS256"
    try:
        public_key.verify(b64(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return "bad signature"
    now = time.time()
    if str(claims.get("iss")) != APP_ID:
        return "wrong iss"
    if not (claims["iat"] <= now + 5 and now < claims["exp"] <= now + 600 + 5):
        return "bad iat/exp"
    return None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, payload=None):
        out = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def record(self, entry):
        with open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")
        if self.path != f"/app/installations/{INSTALLATION}/access_tokens":
            self.record({"event": "token", "error": f"wrong path {self.path}"})
            return self.reply(404, {"message": "Not Found"})
        problem = check_jwt(self.headers.get("authorization", ""))
        self.record({"event": "token", "jwt": problem or "valid", "repositories": body.get("repositories"),
                     "permissions": body.get("permissions"),
                     "accept": self.headers.get("accept"), "api_version": self.headers.get("x-github-api-version")})
        if problem:
            return self.reply(401, {"message": "A JSON web token could not be decoded"})
        token = "ghs_" + secrets.token_hex(18)
        issued.add(token)
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        self.reply(201, {"token": token, "expires_at": expires, "permissions": body.get("permissions", {}),
                         "repository_selection": "selected"})

    def do_DELETE(self):
        auth = self.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        known = token in issued
        issued.discard(token)
        self.record({"event": "revoke", "path": self.path, "known_token": known})
        self.reply(204 if known else 401)


server = HTTPServer(("127.0.0.1", PORT), Handler)
print("ready", flush=True)
server.serve_forever()
