//! `oauth2`: client credentials (RFC 6749 §4.4) and token exchange (RFC 8693) at a token
//! endpoint, always with the profile's RFC 8707 `resource` indicators and its `audience` and
//! `scope`; revocation (RFC 7009) at exit when the profile names a revocation endpoint.

use super::{http, source, Credential, EnvLookup, Material, Revocation, SecretValue};
use base64::Engine;
use mcpcell_profiles::{OAuth2, OAuth2Grant};
use std::time::{Duration, SystemTime};

pub(super) fn mint(o: &OAuth2, env: EnvLookup<'_>) -> Result<Credential, String> {
    let client_secret = match &o.client_secret {
        Some(src) => Some(source::read(src, env).map_err(|e| format!("source oauth2: client_secret: {e}"))?),
        None => None,
    };
    let subject;
    let mut fields: Vec<(&str, &str)> = Vec::new();
    match &o.grant {
        OAuth2Grant::ClientCredentials => fields.push(("grant_type", "client_credentials")),
        OAuth2Grant::TokenExchange { subject_token, subject_token_type, requested_token_type } => {
            subject = source::read(subject_token, env).map_err(|e| format!("source oauth2: subject_token: {e}"))?;
            fields.push(("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"));
            fields.push(("subject_token", subject.as_str()));
            fields.push(("subject_token_type", subject_token_type.as_str()));
            if let Some(t) = requested_token_type {
                fields.push(("requested_token_type", t.as_str()));
            }
        }
    }
    for r in &o.resource {
        fields.push(("resource", r.as_str()));
    }
    if let Some(a) = &o.audience {
        fields.push(("audience", a.as_str()));
    }
    if let Some(s) = &o.scope {
        fields.push(("scope", s.as_str()));
    }
    let auth = client_auth(&o.client_id, client_secret.as_deref(), &mut fields);
    let mut headers = vec![("accept", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let answer = http::request("POST", &o.token_url, &headers, http::Body::Form(&fields))
        .map_err(|e| format!("source oauth2: {e}"))?;
    if answer.status != 200 {
        return Err(format!(
            "source oauth2: the token endpoint {} refused (HTTP {}){}",
            o.token_url,
            answer.status,
            http::error_hint(&answer)
        ));
    }
    let parsed: serde_json::Value = serde_json::from_str(&answer.body)
        .map_err(|_| format!("source oauth2: {}", http::unexpected("the token endpoint", &answer)))?;
    let Some(token) = parsed.get("access_token").and_then(|t| t.as_str()).filter(|t| !t.is_empty()) else {
        return Err(format!("source oauth2: {}", http::unexpected("the token endpoint", &answer)));
    };
    let expires_at =
        parsed.get("expires_in").and_then(|e| e.as_u64()).map(|secs| SystemTime::now() + Duration::from_secs(secs));
    let revoke = o.revocation_url.as_ref().map(|url| Revocation::OAuth2 {
        url: url.clone(),
        client_id: o.client_id.clone(),
        client_secret: client_secret.clone().map(SecretValue::new),
        token: SecretValue::new(token.to_string()),
    });
    Ok(Credential { material: Material::Token(SecretValue::new(token.to_string())), expires_at, revoke })
}

/// HTTP Basic with a client secret (RFC 6749 §2.3.1, which every server must support), or
/// `client_id` in the body for a public client.
fn client_auth<'a>(client_id: &'a str, secret: Option<&str>, fields: &mut Vec<(&str, &'a str)>) -> Option<String> {
    match secret {
        Some(secret) => {
            let pair = format!("{}:{}", form_component(client_id), form_component(secret));
            Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)))
        }
        None => {
            fields.push(("client_id", client_id));
            None
        }
    }
}

/// RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding.
fn form_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-._*".contains(&b) => out.push(char::from(b)),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// RFC 7009: ask the issuer to revoke `token`. Best effort: the answer is logged, not fatal.
pub(super) fn revoke(
    url: &str,
    client_id: &str,
    client_secret: Option<&SecretValue>,
    token: &SecretValue,
) -> Result<(), String> {
    let mut fields = vec![("token", token.expose()), ("token_type_hint", "access_token")];
    let auth = client_auth(client_id, client_secret.map(|s| s.expose()), &mut fields);
    let mut headers = Vec::new();
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let answer = http::request("POST", url, &headers, http::Body::Form(&fields))?;
    match answer.status {
        200 | 204 => Ok(()),
        s => Err(format!("{url}: revocation refused (HTTP {s}){}", http::error_hint(&answer))),
    }
}
