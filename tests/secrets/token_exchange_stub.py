"""A STUB RFC 8693 token-exchange endpoint (no maintained issuer that supports token exchange
installs here: oauth2-mock-server does not implement it). It validates the request as RFC 8693
and RFC 8707 require and answers like a real issuer; it is not a real authorization server.

Usage: python token_exchange_stub.py PORT LOG EXPECTED_SUBJECT_TOKEN_FILE
Appends one JSON line per request: the parameters (never a token), and the verdict.
"""
import json
import sys
import secrets
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

PORT, LOG, SUBJECT_FILE = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
        q = parse_qs(body)
        one = lambda k: (q.get(k) or [None])[0]
        expected = open(SUBJECT_FILE).read().strip()
        problems = []
        if one("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange":
            problems.append("grant_type")
        if one("subject_token") != expected:
            problems.append("subject_token")
        if one("subject_token_type") != "urn:ietf:params:oauth:token-type:access_token":
            problems.append("subject_token_type")
        if not q.get("resource"):
            problems.append("resource missing")
        record = {
            "path": self.path,
            "resource": q.get("resource"),
            "audience": one("audience"),
            "scope": one("scope"),
            "client_id": one("client_id"),
            "problems": problems,
        }
        with open(LOG, "a") as f:
            f.write(json.dumps(record) + "\n")
        if problems:
            self.send_response(400)
            payload = {"error": "invalid_request"}
        else:
            self.send_response(200)
            payload = {
                "access_token": "xchg-" + secrets.token_hex(16),
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": 600,
            }
        out = json.dumps(payload).encode()
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


server = HTTPServer(("127.0.0.1", PORT), Handler)
print("ready", flush=True)
server.serve_forever()
