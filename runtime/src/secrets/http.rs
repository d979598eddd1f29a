//! The HTTP client for token issuers: ureq over rustls (webpki roots), no redirects (a token
//! request is never replayed to another host), bounded time and answer size. Issuer URLs are
//! https, or plain http to a loopback host only (checked when the profile is loaded, and again
//! here). Errors name the URL and the HTTP status, never a request or answer body (either may
//! carry a credential).

use std::time::Duration;

/// Longest an issuer may take to answer one request.
const TIMEOUT: Duration = Duration::from_secs(20);
/// Largest answer read from an issuer.
const MAX_ANSWER_BYTES: u64 = 256 << 10;

/// An issuer's answer: status and body (at most [`MAX_ANSWER_BYTES`]).
pub struct Answer {
    pub status: u16,
    pub body: String,
}

fn agent() -> ureq::Agent {
    // Per-phase timeouts, none for name resolution: with a resolve (or global) timeout ureq
    // resolves on a detached thread, and the launcher must have no thread left when it clones
    // the cell. Resolution is then bounded by the system resolver's own timeouts.
    ureq::Agent::config_builder()
        .timeout_connect(Some(TIMEOUT))
        .timeout_send_request(Some(TIMEOUT))
        .timeout_send_body(Some(TIMEOUT))
        .timeout_recv_response(Some(TIMEOUT))
        .timeout_recv_body(Some(TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("mcpcell/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

pub enum Body<'a> {
    Empty,
    Form(&'a [(&'a str, &'a str)]),
    Json(&'a serde_json::Value),
    /// Already encoded (for a signed request, whose body must be sent byte for byte).
    Raw(&'a [u8]),
}

/// Send one request. `headers` may carry credentials: they are never shown.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Body<'_>) -> Result<Answer, String> {
    mcpcell_profiles::check_issuer_url(url)?;
    let agent = agent();
    let result = match method {
        "GET" | "DELETE" => {
            let mut req = if method == "GET" { agent.get(url) } else { agent.delete(url) };
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.call()
        }
        _ => {
            let mut req = agent.post(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            match body {
                Body::Empty => req.send_empty(),
                Body::Form(fields) => req.send_form(fields.iter().copied()),
                Body::Json(v) => req.header("content-type", "application/json").send(v.to_string().as_bytes()),
                Body::Raw(bytes) => req.send(bytes),
            }
        }
    };
    let mut resp = result.map_err(|e| describe_error(url, &e))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
        .map_err(|e| format!("{url}: reading the answer (HTTP {status}): {}", short(&e)))?;
    Ok(Answer { status, body })
}

fn describe_error(url: &str, e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("{url}: connection refused (is the issuer running and the URL right?)")
        }
        ureq::Error::Timeout(_) => format!("{url}: no answer within {} s", TIMEOUT.as_secs()),
        other => format!("{url}: {}", short(other)),
    }
}

/// An error's text, cut short (transport errors never carry bodies; the cut is for tidiness).
fn short(e: &ureq::Error) -> String {
    let text = e.to_string();
    text.chars().take(200).collect()
}

/// A short, safe description of an answer that is not what was expected: the status, the
/// length and the media type it looks like; never the body.
pub fn unexpected(what: &str, answer: &Answer) -> String {
    let looks = if serde_json::from_str::<serde_json::Value>(&answer.body).is_ok() {
        "JSON without the expected fields"
    } else if answer.body.trim_start().starts_with('<') {
        "markup"
    } else if answer.body.is_empty() {
        "empty"
    } else {
        "not JSON"
    };
    format!("{what}: unexpected answer (HTTP {}, {} bytes, {looks})", answer.status, answer.body.len())
}

/// An OAuth-style error code from a JSON error answer (`{"error": "invalid_client"}`), or a
/// GitHub-style `message`, shown only when it is short plain text (it is the issuer's word, not
/// a credential, but it is cut and filtered anyway).
pub fn error_hint(answer: &Answer) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&answer.body) else { return String::new() };
    let field = v.get("error").and_then(|e| e.as_str()).or_else(|| v.get("message").and_then(|m| m.as_str()));
    match field {
        Some(text)
            if text.len() <= 120 && text.chars().all(|c| c.is_ascii_alphanumeric() || " _-.,:'()/".contains(c)) =>
        {
            format!(": {text}")
        }
        _ => String::new(),
    }
}
