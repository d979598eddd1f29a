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

/// The arguments that carry a secret, with why: a value that looks like one, the value part of
/// `--api-key=VALUE`, or the argument after a flag whose name says it is a credential
/// (`--token VALUE`). Each as (index, the secret text, reason).
pub(crate) fn arg_secrets(args: &[String]) -> Vec<(usize, String, String)> {
    let flag_name = |a: &str| a.trim_start_matches('-').replace('-', "_");
    let mut found = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if let Some(why) = value_secret_reason(a) {
            found.push((i, a.clone(), why));
        } else if let Some((flag, value)) = a.split_once('=').filter(|(f, v)| f.starts_with('-') && !v.is_empty()) {
            if let Some(why) = env_secret_reason(&flag_name(flag), value) {
                found.push((i, value.to_string(), why));
            }
        } else if i > 0 && args[i - 1].starts_with('-') && !args[i - 1].contains('=') && !a.starts_with('-') {
            let name = flag_name(&args[i - 1]);
            let by_name = NAME_PARTS.iter().any(|p| name.to_ascii_uppercase().contains(p))
                || NAME_SUFFIXES.iter().any(|s| name.to_ascii_uppercase().ends_with(s));
            if by_name {
                found.push((i, a.clone(), format!("it follows {}, which names a credential", args[i - 1])));
            }
        }
    }
    found
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

#[cfg(test)]
mod arg_tests {
    use super::*;

    fn found(args: &[&str]) -> Vec<(usize, String)> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        arg_secrets(&args).into_iter().map(|(i, v, _)| (i, v)).collect()
    }

    #[test]
    fn secrets_in_arguments_are_found_in_every_shape() {
        assert_eq!(found(&["--github-token=abc123def456"]), vec![(0, "abc123def456".to_string())]);
        assert_eq!(found(&["--x=ghp_abcdefghijklmnop"]), vec![(0, "ghp_abcdefghijklmnop".to_string())]);
        assert_eq!(found(&["--token", "abc123def456"]), vec![(1, "abc123def456".to_string())]);
        assert_eq!(found(&["ghp_abcdefghijklmnop"]), vec![(0, "ghp_abcdefghijklmnop".to_string())]);
        // Controls: ordinary flags, values and paths are not secrets.
        assert!(found(&["--port", "8080", "--root=/srv/data", "/home/me/notes", "--verbose"]).is_empty());
    }
}
