// A real OAuth 2.0 issuer for the secrets tests: oauth2-mock-server (npm), started on loopback.
// Usage: node oauth2_mock.mjs PORT LOG_FILE   (OAUTH2_MOCK_SERVER = path of the package's
// dist/index.mjs). Prints "ready" once listening. Appends one JSON line per token request (the
// parameters the client sent; the client secret never, only whether Basic auth was used) and
// per revocation (whether the revoked token is one this server issued).
import { appendFileSync } from "node:fs";

const [port, log] = process.argv.slice(2);
const { OAuth2Server } = await import(process.env.OAUTH2_MOCK_SERVER);
const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
const issued = new Set();

server.service.on("beforeTokenSigning", (token, req) => {
  const b = req.body ?? {};
  // RFC 8707: the resource the client asked for becomes the token's audience.
  token.payload.aud = b.resource;
  appendFileSync(log, JSON.stringify({
    event: "token",
    grant_type: b.grant_type,
    resource: b.resource ?? null,
    audience: b.audience ?? null,
    scope: b.scope ?? null,
    basic_auth: (req.headers.authorization ?? "").startsWith("Basic "),
  }) + "\n");
});
server.service.on("beforeResponse", (response) => {
  if (response.body && response.body.access_token) issued.add(response.body.access_token);
});
server.service.on("beforeRevoke", (_res, req) => {
  let raw = "";
  req.on("data", (c) => { raw += c; });
  req.on("end", () => {
    const token = new URLSearchParams(raw).get("token");
    appendFileSync(log, JSON.stringify({ event: "revoke", known_token: issued.has(token) }) + "\n");
  });
});
await server.start(Number(port), "127.0.0.1");
console.log("ready");
