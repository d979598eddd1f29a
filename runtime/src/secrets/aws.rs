//! `aws-sts`: `sts:AssumeRole` (Query API, form-encoded POST), signed with SigV4 by the
//! `aws-sigv4` crate using the launcher's own AWS credentials. The answer is XML; the four
//! fields needed are read by tag (no XML crate for four leaf elements).

use super::{http, Credential, EnvLookup, Material, SecretValue};
use mcpcell_profiles::AwsSts;
use std::time::{Duration, SystemTime};

/// AssumeRole's default DurationSeconds when the profile gives no `ttl_secs`.
const DEFAULT_DURATION_SECS: u64 = 3600;

pub(super) fn assume_role(sts: &AwsSts, ttl_secs: Option<u64>, env: EnvLookup<'_>) -> Result<Credential, String> {
    let base = |var: &str| env(var).filter(|v| !v.is_empty());
    let (Some(key_id), Some(secret)) = (base("AWS_ACCESS_KEY_ID"), base("AWS_SECRET_ACCESS_KEY")) else {
        return Err(
            "source aws-sts: mcpcell needs AWS credentials to call AssumeRole with: set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones) in mcpcell's environment"
                .into(),
        );
    };
    let duration = ttl_secs.unwrap_or(DEFAULT_DURATION_SECS).to_string();
    let mut fields = vec![
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", sts.role_arn.as_str()),
        ("RoleSessionName", sts.session_name.as_str()),
        ("DurationSeconds", duration.as_str()),
    ];
    if let Some(policy) = &sts.policy {
        fields.push(("Policy", policy.as_str()));
    }
    let body = form_encode(&fields);
    let url = format!("{}/", sts.endpoint);
    let host = url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or_default().to_string();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let unsigned = [("host", host.as_str()), ("content-type", content_type)];
    let signed = sign(&url, &unsigned, body.as_bytes(), &sts.region, (&key_id, &secret, base("AWS_SESSION_TOKEN")))?;
    let mut headers: Vec<(&str, &str)> = vec![("content-type", content_type)];
    headers.extend(signed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let answer = http::request("POST", &url, &headers, http::Body::Raw(body.as_bytes()))
        .map_err(|e| format!("source aws-sts: {e}"))?;
    if answer.status != 200 {
        let code = tag(&answer.body, "Code").filter(|c| c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '.'));
        return Err(match code {
            Some(code) => {
                format!("source aws-sts: AssumeRole of {} refused (HTTP {}): {code}", sts.role_arn, answer.status)
            }
            None => format!("source aws-sts: {}", http::unexpected("AssumeRole", &answer)),
        });
    }
    let creds = tag(&answer.body, "Credentials").unwrap_or_default();
    let (Some(id), Some(key), Some(token)) =
        (tag(creds, "AccessKeyId"), tag(creds, "SecretAccessKey"), tag(creds, "SessionToken"))
    else {
        return Err(format!("source aws-sts: {}", http::unexpected("AssumeRole", &answer)));
    };
    let expires_at = tag(creds, "Expiration").and_then(parse_iso8601);
    Ok(Credential {
        material: Material::Aws {
            access_key_id: SecretValue::new(xml_unescape(id)),
            secret_access_key: SecretValue::new(xml_unescape(key)),
            session_token: SecretValue::new(xml_unescape(token)),
        },
        expires_at,
        revoke: None,
    })
}

/// SigV4 headers (authorization, x-amz-date, x-amz-security-token) for a POST of `body`.
fn sign(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    region: &str,
    (key_id, secret, token): (&str, &str, Option<String>),
) -> Result<Vec<(String, String)>, String> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let identity = aws_credential_types::Credentials::new(key_id, secret, token, None, "mcpcell").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("source aws-sts: signing: {e}"))?
        .into();
    let request = SignableRequest::new("POST", url, headers.iter().copied(), SignableBody::Bytes(body))
        .map_err(|e| format!("source aws-sts: signing: {e}"))?;
    let (instructions, _signature) =
        sign(request, &params).map_err(|e| format!("source aws-sts: signing: {e}"))?.into_parts();
    Ok(instructions.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn form_encode(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// RFC 3986 percent-encoding of everything but unreserved characters (what SigV4 expects).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of the first `<name>...</name>` element.
fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(xml[start..start + len].trim())
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// `2026-11-21T17:00:00Z` (fractional seconds and a `+00:00` zone accepted) as a time.
pub(super) fn parse_iso8601(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let (date, time) = text.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let time = time.trim_end_matches('Z').trim_end_matches("+00:00");
    let mut t = time.split(':');
    let (hh, mm) = (t.next()?.parse::<i64>().ok()?, t.next()?.parse::<i64>().ok()?);
    let ss = t.next()?.split('.').next()?.parse::<i64>().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = u64::try_from(days * 86400 + hh * 3600 + mm * 60 + ss).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_times_parse() {
        let t = parse_iso8601("2026-11-21T17:00:00Z").unwrap();
        assert_eq!(t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 1795280400);
        assert_eq!(parse_iso8601("2026-11-21T17:00:00.123Z"), Some(t));
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(SystemTime::UNIX_EPOCH));
        assert_eq!(parse_iso8601("garbage"), None);
    }

    #[test]
    fn tags_are_read_and_unescaped() {
        let xml =
            "<R><Credentials><AccessKeyId>AK</AccessKeyId><SecretAccessKey>a&amp;b</SecretAccessKey></Credentials></R>";
        let creds = tag(xml, "Credentials").unwrap();
        assert_eq!(tag(creds, "AccessKeyId"), Some("AK"));
        assert_eq!(xml_unescape(tag(creds, "SecretAccessKey").unwrap()), "a&b");
        assert_eq!(tag(creds, "SessionToken"), None);
    }
}
