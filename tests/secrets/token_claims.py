"""Runs as the server inside the cell: decodes the JWT access token in $API_TOKEN (without
verifying it) and prints its audience and scope claims. Never prints the token."""
import base64
import json
import os

token = os.environ["API_TOKEN"]
payload = token.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
print("aud " + json.dumps(claims.get("aud")), flush=True)
print("scope " + json.dumps(claims.get("scope")), flush=True)
