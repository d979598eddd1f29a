//! Which literal values in a config are secrets. Deliberately generous: a non-secret moved to a
//! secret file still reaches the server; a secret left in the JSON does not stay secret.

/// A secret value. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub(crate) fn new(value: String) -> Self {
        SecretValue(value)
    }
    /// The value itself: only for writing the secret file.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretValue(<{} characters>)", self.0.chars().count())
    }
}

/// Variable names that hold credentials (matched on the upper-cased name).
const NAME_PARTS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "API_KEY",
    "APIKEY",
    "ACCESS_KEY",
    "AUTH",
    "COOKIE",
];
const NAME_SUFFIXES: &[&str] = &["_KEY", "_PAT", "_PASS", "_PWD", "_DSN"];
const NAME_EXACT: &[&str] = &["KEY", "PAT", "PASS", "DSN"];

/// Prefixes of well-known credential formats (GitHub, GitLab, OpenAI/Anthropic/Stripe, Slack,
/// AWS, Google, npm, PyPI, Hugging Face, Databricks, PEM keys, JWTs, bearer headers).
const VALUE_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxr-",
    "xoxs-",
    "xapp-",
    "AKIA",
    "ASIA",
    "AIza",
    "npm_",
    "pypi-",
    "hf_",
    "dapi",
    "-----BEGIN",
    "Bearer ",
    "Basic ",
];

/// Why `name=value` looks like a secret, or `None`.
pub(crate) fn env_secret_reason(name: &str, value: &str) -> Option<String> {
    let upper = name.to_ascii_uppercase();
    if NAME_PARTS.iter().any(|p| upper.contains(p))
        || NAME_SUFFIXES.iter().any(|s| upper.ends_with(s))
        || NAME_EXACT.contains(&upper.as_str())
    {
        return Some("its name says it is a credential".into());
    }
    value_secret_reason(value)
}

/// Why a value (an env value or an argument) looks like a secret, or `None`.
pub(crate) fn value_secret_reason(value: &str) -> Option<String> {
    if let Some(p) = VALUE_PREFIXES.iter().find(|p| value.starts_with(**p) && value.len() > p.len() + 3) {
        return Some(format!("it starts like a credential ({}…)", p.trim_end()));
    }
    if value.starts_with("eyJ") && value.matches('.').count() == 2 {
        return Some("it is a JSON Web Token".into());
    }
    if has_url_password(value) {
        return Some("it is a URL with a password".into());
    }
    None
}

/// `scheme://user:password@host...`
fn has_url_password(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    match authority.rsplit_once('@') {
        Some((userinfo, _)) => userinfo.split_once(':').is_some_and(|(_, pw)| !pw.is_empty()),
        None => false,
    }
}

/// A value the client fills in when it starts the server (`${input:token}`, `${env:X}`, `${X}`).
pub(crate) fn is_client_variable(value: &str) -> bool {
    value.contains("${")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for n in [
            "GITHUB_PERSONAL_ACCESS_TOKEN",
            "OPENAI_API_KEY",
            "slack_bot_token",
            "DB_PASSWORD",
            "AWS_SECRET_ACCESS_KEY",
            "SENTRY_DSN",
            "BRAVE_API_KEY",
            "GITLAB_PAT",
        ] {
            assert!(env_secret_reason(n, "x").is_some(), "{n}");
        }
        for n in ["LOG_LEVEL", "MEMORY_FILE_PATH", "KEYBOARD_LAYOUT", "PATH", "DEBUG", "HOME", "GITLAB_API_URL"] {
            assert!(env_secret_reason(n, "info").is_none(), "{n}");
        }
    }

    #[test]
    fn values() {
        for v in [
            "ghp_abcdefghijkl",
            "github_pat_11AAAA",
            "sk-proj-abcdef",
            "xoxb-1234-5678",
            "AKIAIOSFODNN7EXAMPLE",
            "postgres://u:hunter2@db/x",
            "eyJhbGciOi.eyJzdWIi.sig",
        ] {
            assert!(value_secret_reason(v).is_some(), "{v}");
        }
        for v in
            ["info", "/home/me/notes", "https://api.github.com", "postgres://u@db/x", "sk-", "skip-tests", "--token"]
        {
            assert!(value_secret_reason(v).is_none(), "{v}");
        }
    }

    #[test]
    fn debug_hides_the_value() {
        let s = SecretValue::new("ghp_supersecret".into());
        assert!(!format!("{s:?}").contains("supersecret"));
    }
}
