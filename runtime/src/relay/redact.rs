//! Redaction: a secret the server sends back to the client (echoing its environment, a token
//! in an error message) is replaced with a marker before it leaves mcpcell. Each secret is
//! looked for as is, JSON-escaped, base64 (standard and URL-safe, padded or not) and
//! percent-encoded. Limits, stated in SECURITY.md: a secret split across messages, inside a
//! larger base64 blob at an unaligned offset, or otherwise transformed is not recognised.

use base64::Engine;
use memchr::memmem;

pub struct Redactor {
    /// (needle, marker) pairs, longest needle first so that a longer encoding wins.
    needles: Vec<(Vec<u8>, Vec<u8>, String)>,
}

impl Redactor {
    /// `secrets`: (label, value). Empty values are ignored.
    pub fn new(secrets: &[(String, String)]) -> Self {
        let mut needles = Vec::new();
        for (label, value) in secrets {
            if value.is_empty() {
                continue;
            }
            let marker = format!("[REDACTED:{label}]").into_bytes();
            for form in encodings(value) {
                if !needles.iter().any(|(n, _, _): &(Vec<u8>, Vec<u8>, String)| *n == form) {
                    needles.push((form, marker.clone(), label.clone()));
                }
            }
        }
        needles.sort_by_key(|(n, _, _)| std::cmp::Reverse(n.len()));
        Redactor { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The line with every occurrence replaced, and the labels found; None when there was none.
    pub fn redact(&self, line: &[u8]) -> Option<(Vec<u8>, Vec<String>)> {
        let mut out: Option<Vec<u8>> = None;
        let mut found = Vec::new();
        for (needle, marker, label) in &self.needles {
            let current = out.as_deref().unwrap_or(line);
            if memmem::find(current, needle).is_none() {
                continue;
            }
            let mut next = Vec::with_capacity(current.len());
            let mut rest = current;
            while let Some(i) = memmem::find(rest, needle) {
                next.extend_from_slice(&rest[..i]);
                next.extend_from_slice(marker);
                rest = &rest[i + needle.len()..];
            }
            next.extend_from_slice(rest);
            out = Some(next);
            if !found.contains(label) {
                found.push(label.clone());
            }
        }
        out.map(|o| (o, found))
    }
}

/// The forms a secret may take on the wire.
fn encodings(value: &str) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let bytes = value.as_bytes();
    let json = serde_json::to_string(value).unwrap_or_default();
    let json_inner = json.get(1..json.len().saturating_sub(1)).unwrap_or_default().to_string();
    let mut forms = vec![
        bytes.to_vec(),
        json_inner.into_bytes(),
        STANDARD.encode(bytes).into_bytes(),
        STANDARD_NO_PAD.encode(bytes).into_bytes(),
        URL_SAFE.encode(bytes).into_bytes(),
        URL_SAFE_NO_PAD.encode(bytes).into_bytes(),
        percent_encode(bytes).into_bytes(),
    ];
    forms.sort();
    forms.dedup();
    forms.retain(|f| !f.is_empty());
    forms
}

fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
            out.push(char::from(*b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor() -> Redactor {
        Redactor::new(&[("GITHUB_TOKEN".into(), "ghp_s3cr3t/+value=".into())])
    }

    #[test]
    fn every_encoding_is_replaced() {
        let r = redactor();
        let b64 = base64::engine::general_purpose::STANDARD.encode("ghp_s3cr3t/+value=");
        for line in [
            r#"{"text":"token ghp_s3cr3t/+value= here"}"#.to_string(),
            format!(r#"{{"text":"{b64}"}}"#),
            r#"{"text":"ghp_s3cr3t%2F%2Bvalue%3D"}"#.to_string(),
        ] {
            let (out, found) = r.redact(line.as_bytes()).unwrap_or_else(|| panic!("not redacted: {line}"));
            let out = String::from_utf8(out).unwrap();
            assert!(out.contains("[REDACTED:GITHUB_TOKEN]"), "{out}");
            assert!(!out.contains("s3cr3t"), "{out}");
            assert_eq!(found, ["GITHUB_TOKEN"]);
        }
    }

    #[test]
    fn a_json_escaped_secret_is_found() {
        let r = Redactor::new(&[("T".into(), "a\"b\\c".into())]);
        let (out, _) = r.redact(br#"{"text":"x a\"b\\c y"}"#).expect("redacted");
        assert_eq!(out, br#"{"text":"x [REDACTED:T] y"}"#.to_vec());
    }

    #[test]
    fn lines_without_secrets_are_untouched() {
        assert!(redactor().redact(br#"{"text":"nothing to see"}"#).is_none());
    }
}
