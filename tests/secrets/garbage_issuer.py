"""Answers every HTTP request with 200 and a body that is not a token response (for the
"issuer returns garbage" test), or, given a URL, with a 307 redirect there (a token request must
not follow it). Usage: python garbage_issuer.py PORT [REDIRECT_URL]"""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", "0")))
        out = b"<html>maintenance</html>"
        if len(sys.argv) > 2:
            self.send_response(307)
            self.send_header("location", sys.argv[2])
            self.send_header("content-length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


server = HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print("ready", flush=True)
server.serve_forever()
