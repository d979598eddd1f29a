//! `[network] egress` entries: `host[:port]` and `*.domain[:port]`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::model::{EgressRule, HostPattern};

/// Port used when an egress entry names none.
pub const DEFAULT_PORT: u16 = 443;

impl FromStr for EgressRule {
    type Err = String;

    /// Parses `host`, `host:port`, `*.domain` or `*.domain:port`. Hosts are lower-cased and lose
    /// one trailing dot. IP addresses, ranges, schemes, paths, wildcard ports and over-broad
    /// wildcards are refused: egress is granted by name so that the proxy can check it.
    fn from_str(entry: &str) -> Result<EgressRule, String> {
        let fail = |why: &str| Err(format!("egress entry \"{entry}\": {why}"));
        let not_ip = "hosts must be names, not IP addresses; write the hostname";
        if entry.is_empty() {
            return fail("empty; write a hostname like \"api.github.com\"");
        }
        if let Some((_, rest)) = entry.split_once("://") {
            let host = rest.split('/').next().unwrap_or(rest);
            return fail(&format!("write just the host (and optional :port), without a scheme: \"{host}\""));
        }
        if entry.starts_with('[') || entry.parse::<Ipv6Addr>().is_ok() {
            return fail(not_ip);
        }
        if let Some((before, _)) = entry.split_once('/') {
            if before.parse::<IpAddr>().is_ok() {
                return fail("address ranges are not supported; list the hostnames the server needs");
            }
            return fail(&format!("write just the host (and optional :port), without a path: \"{before}\""));
        }
        let (host, port) = match entry.split_once(':') {
            None => (entry, DEFAULT_PORT),
            Some((host, port)) => {
                if port.contains(':') {
                    return fail("write host or host:port, like \"api.github.com:8443\"");
                }
                match port.parse::<u16>() {
                    Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => (host, p),
                    _ if port == "*" => {
                        return fail("ports must be numbers from 1 to 65535; list each port as its own entry")
                    }
                    _ => return fail("port must be a number from 1 to 65535"),
                }
            }
        };
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if host.parse::<Ipv4Addr>().is_ok() {
            return fail(not_ip);
        }
        let pattern = if host == "*" {
            return fail("a bare \"*\" would allow every host; list the hosts the server needs");
        } else if let Some(domain) = host.strip_prefix("*.") {
            if domain.contains('*') {
                return fail("\"*\" is only allowed as the whole first label, like \"*.example.com\"");
            }
            if !domain.contains('.') {
                return fail(&format!(
                    "\"*.{domain}\" would allow a whole top-level domain; name at least two labels, like \"*.example.{domain}\""
                ));
            }
            HostPattern::Subdomains(domain.to_string())
        } else if host.contains('*') {
            return fail("\"*\" is only allowed as the whole first label, like \"*.example.com\"");
        } else {
            HostPattern::Exact(host)
        };
        let name = pattern.domain();
        if let Err(why) = check_dns_name(name) {
            return fail(&why);
        }
        // A name whose last label is numeric is an IP address in disguise (`10.1`, `1234`).
        if name.rsplit('.').next().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit())) {
            return fail(not_ip);
        }
        Ok(EgressRule { host: pattern, port, allow_private: false })
    }
}

/// RFC 1123 host name: dot-separated labels of 1..=63 letters, digits and `-` (not at either
/// end of a label), at most 253 characters in all.
fn check_dns_name(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err("host name is longer than 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("host name has an empty label (\"..\" or a leading \".\"); fix the hostname".into());
        }
        let ok_chars = label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok_chars || label.len() > 63 || label.starts_with('-') || label.ends_with('-') {
            let idn = if label.is_ascii() { "" } else { "; write internationalised names in punycode (xn--...)" };
            return Err(format!(
                "\"{label}\" is not a valid DNS label (1 to 63 letters, digits or \"-\", not starting or ending with \"-\"){idn}"
            ));
        }
    }
    Ok(())
}

impl HostPattern {
    /// The domain part: the exact host, or the parent domain of a wildcard.
    pub fn domain(&self) -> &str {
        match self {
            HostPattern::Exact(d) | HostPattern::Subdomains(d) => d,
        }
    }

    /// Whether `host` (any case, one optional trailing dot) is covered by this pattern.
    /// `*.example.com` covers `a.example.com` and `a.b.example.com`, never `example.com`.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        match self {
            HostPattern::Exact(d) => host == *d,
            HostPattern::Subdomains(d) => host
                .strip_suffix(d.as_str())
                .and_then(|prefix| prefix.strip_suffix('.'))
                .is_some_and(|sub| !sub.is_empty()),
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(d) => f.write_str(d),
            HostPattern::Subdomains(d) => write!(f, "*.{d}"),
        }
    }
}

impl EgressRule {
    /// Parses `entry` like [`FromStr`] and opts it in to private, loopback and link-local
    /// destinations (`allow_private = true`), for `exec --allow-private-host HOST[:PORT]`.
    pub fn parse_private(entry: &str) -> Result<EgressRule, String> {
        Ok(EgressRule { allow_private: true, ..entry.parse()? })
    }
}

/// `host:port`, as written in a profile. Does not show `allow_private`: callers that describe a
/// policy (like `mcpcell explain`) must mention it separately.
impl fmt::Display for EgressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}
