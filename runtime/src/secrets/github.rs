//! `github-app`: an RS256 JWT signed with the App's private key (issued 60 s in the past for
//! clock skew, valid 9 minutes) buys an installation token through
//! `POST {api}/app/installations/{id}/access_tokens`, limited to the listed repositories and
//! permissions. The token is revoked with `DELETE {api}/installation/token` at exit.

use super::{aws::parse_iso8601, http, source, Credential, EnvLookup, Material, Revocation, SecretValue};
use mcpcell_profiles::GithubApp;
use std::time::{Duration, SystemTime};

const ACCEPT: &str = "application/vnd.github+json";
const API_VERSION: (&str, &str) = ("x-github-api-version", "2022-11-28");

pub(super) fn mint(app: &GithubApp, env: EnvLookup<'_>) -> Result<Credential, String> {
    let pem = source::read(&app.private_key, env).map_err(|e| format!("source github-app: private_key: {e}"))?;
    let jwt = app_jwt(&app.app_id, &pem)?;
    let url = format!("{}/app/installations/{}/access_tokens", app.api_url, app.installation_id);
    let mut body = serde_json::Map::new();
    if !app.repositories.is_empty() {
        body.insert("repositories".into(), app.repositories.clone().into());
    }
    if !app.permissions.is_empty() {
        let perms: serde_json::Map<String, serde_json::Value> =
            app.permissions.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
        body.insert("permissions".into(), perms.into());
    }
    let auth = format!("Bearer {jwt}");
    let headers = [("accept", ACCEPT), API_VERSION, ("authorization", auth.as_str())];
    let answer = http::request("POST", &url, &headers, http::Body::Json(&body.into()))
        .map_err(|e| format!("source github-app: {e}"))?;
    if answer.status != 201 && answer.status != 200 {
        return Err(format!(
            "source github-app: {url} refused the installation token (HTTP {}){}",
            answer.status,
            http::error_hint(&answer)
        ));
    }
    let parsed: serde_json::Value = serde_json::from_str(&answer.body)
        .map_err(|_| format!("source github-app: {}", http::unexpected(&url, &answer)))?;
    let Some(token) = parsed.get("token").and_then(|t| t.as_str()).filter(|t| !t.is_empty()) else {
        return Err(format!("source github-app: {}", http::unexpected(&url, &answer)));
    };
    let token = SecretValue::new(token.to_string());
    Ok(Credential {
        material: Material::Token(token.clone()),
        expires_at: parsed.get("expires_at").and_then(|e| e.as_str()).and_then(parse_iso8601),
        revoke: Some(Revocation::GitHub { api_url: app.api_url.clone(), token }),
    })
}

/// The App's JWT: `iss` = app id, `iat` 60 s ago, `exp` in 9 minutes (GitHub allows 10).
fn app_jwt(app_id: &str, pem: &str) -> Result<String, String> {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
    let claims = serde_json::json!({ "iat": now.saturating_sub(60), "exp": now + 540, "iss": app_id });
    // The key's parse error says what is wrong with the PEM, never its content.
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|e| format!("source github-app: private_key is not an RSA private key in PEM form ({e})"))?;
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), &claims, &key)
        .map_err(|e| format!("source github-app: signing the App JWT: {e}"))
}

/// `DELETE /installation/token`, authenticated with the token itself.
pub(super) fn revoke(api_url: &str, token: &SecretValue) -> Result<(), String> {
    let url = format!("{api_url}/installation/token");
    let auth = format!("Bearer {}", token.expose());
    let answer =
        http::request("DELETE", &url, &[("accept", ACCEPT), API_VERSION, ("authorization", &auth)], http::Body::Empty)?;
    match answer.status {
        204 | 200 => Ok(()),
        s => Err(format!("{url}: revocation refused (HTTP {s})")),
    }
}
