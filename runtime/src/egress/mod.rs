//! Egress by hostname (DESIGN.md "Egress by hostname, for every program").
//!
//! The cell's network namespace has only loopback. Inside it, `netd` (a small process of the
//! cell with no capabilities, no filesystem and a seccomp filter) answers DNS for the allowed
//! names only — each gets a synthetic loopback address from 127.100.0.0/16 — and accepts TCP on
//! the allowed ports. An accepted connection's local address says which name was meant; netd
//! hands the socket, with that name, over a unix socket to the launcher's [`proxy`], which
//! resolves the name itself, refuses non-public destinations unless the rule opts in, checks
//! the TLS SNI / HTTP Host against the name, and relays. A raw IP, another port, UDP or IPv6
//! has no route out; an unlisted name gets NXDOMAIN and no query ever leaves the cell.

pub mod addr;
pub mod dns;
pub mod http_gate;
pub mod netd;
pub mod proxy;
pub mod sniff;

use mcpcell_profiles::{EgressRule, HostPattern};
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Where the cell's DNS stub listens (the cell's /etc/resolv.conf names it).
pub const DNS_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
/// The in-cell HTTP proxy for runtimes that prefer HTTP(S)_PROXY. Same allowlist, no bypass.
pub const HTTP_PROXY_PORT: u16 = 3128;
/// Synthetic addresses: 127.100.0.1 upwards. Loopback by construction, so no route is needed.
const SYNTHETIC_BASE: u32 = u32::from_be_bytes([127, 100, 0, 0]);
const SYNTHETIC_MAX: u32 = 0xfffe;

/// The profile's egress rules, as checked on both sides of the cell boundary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EgressAllowlist {
    rules: Vec<EgressRule>,
}

impl EgressAllowlist {
    pub fn new(rules: Vec<EgressRule>) -> Self {
        EgressAllowlist { rules }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[EgressRule] {
        &self.rules
    }

    /// The rule that allows `name` on `port`, if any. `name` is compared lower-cased, without a
    /// trailing dot; a wildcard matches subdomains only.
    pub fn find(&self, name: &str, port: u16) -> Option<&EgressRule> {
        let name = normalize(name);
        self.rules.iter().find(|r| r.port == port && matches(&r.host, &name))
    }

    /// Whether `name` is allowed on any port (what the DNS stub needs to know).
    pub fn allows_name(&self, name: &str) -> bool {
        let name = normalize(name);
        self.rules.iter().any(|r| matches(&r.host, &name))
    }

    /// The TCP ports the cell must accept connections on.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.rules.iter().map(|r| r.port).collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn matches(pattern: &HostPattern, name: &str) -> bool {
    match pattern {
        HostPattern::Exact(host) => host == name,
        HostPattern::Subdomains(domain) => {
            name.len() > domain.len() + 1
                && name.ends_with(domain.as_str())
                && name.as_bytes()[name.len() - domain.len() - 1] == b'.'
        }
    }
}

/// Names ↔ synthetic addresses, as handed out by the DNS stub. Exact names get theirs up
/// front (in profile order, so they are stable across starts); wildcard matches on first use.
#[derive(Debug)]
pub struct NameTable {
    allow: EgressAllowlist,
    by_name: HashMap<String, Ipv4Addr>,
    by_addr: HashMap<Ipv4Addr, String>,
    next: u32,
}

impl NameTable {
    pub fn new(allow: EgressAllowlist) -> Self {
        let mut table = NameTable { allow, by_name: HashMap::new(), by_addr: HashMap::new(), next: 1 };
        let exact: Vec<String> = table
            .allow
            .rules()
            .iter()
            .filter_map(|r| match &r.host {
                HostPattern::Exact(h) => Some(h.clone()),
                HostPattern::Subdomains(_) => None,
            })
            .collect();
        for name in exact {
            table.lookup(&name);
        }
        table
    }

    /// The synthetic address for an allowed name (assigning one if needed); None for a name
    /// the profile does not allow, or when the range is exhausted.
    pub fn lookup(&mut self, name: &str) -> Option<Ipv4Addr> {
        let name = normalize(name);
        if let Some(addr) = self.by_name.get(&name) {
            return Some(*addr);
        }
        if !self.allow.allows_name(&name) || self.next > SYNTHETIC_MAX {
            return None;
        }
        let addr = Ipv4Addr::from(SYNTHETIC_BASE + self.next);
        self.next += 1;
        self.by_name.insert(name.clone(), addr);
        self.by_addr.insert(addr, name);
        Some(addr)
    }

    /// The name a synthetic address stands for.
    pub fn name_for(&self, addr: Ipv4Addr) -> Option<&str> {
        self.by_addr.get(&addr).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> EgressRule {
        match s.parse() {
            Ok(r) => r,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn allowlist_matches_exact_and_subdomains_only() {
        let allow = EgressAllowlist::new(vec![rule("api.github.com"), rule("*.example.com:8443")]);
        assert!(allow.find("api.github.com", 443).is_some());
        assert!(allow.find("API.GitHub.com.", 443).is_some(), "case and trailing dot do not matter");
        assert!(allow.find("api.github.com", 80).is_none(), "another port");
        assert!(allow.find("github.com", 443).is_none());
        assert!(allow.find("a.example.com", 8443).is_some());
        assert!(allow.find("a.b.example.com", 8443).is_some());
        assert!(allow.find("example.com", 8443).is_none(), "a wildcard never matches the apex");
        assert!(allow.find("badexample.com", 8443).is_none(), "nor a name that merely ends the same");
        assert_eq!(allow.ports(), [443, 8443]);
    }

    #[test]
    fn names_get_stable_synthetic_addresses() {
        let allow = EgressAllowlist::new(vec![rule("one.test"), rule("*.wild.test"), rule("two.test")]);
        let mut table = NameTable::new(allow);
        assert_eq!(table.lookup("one.test"), Some(Ipv4Addr::new(127, 100, 0, 1)));
        assert_eq!(table.lookup("two.test"), Some(Ipv4Addr::new(127, 100, 0, 2)));
        assert_eq!(table.lookup("x.wild.test"), Some(Ipv4Addr::new(127, 100, 0, 3)));
        assert_eq!(table.lookup("X.Wild.Test."), Some(Ipv4Addr::new(127, 100, 0, 3)));
        assert_eq!(table.lookup("unlisted.test"), None);
        assert_eq!(table.lookup("wild.test"), None);
        assert_eq!(table.name_for(Ipv4Addr::new(127, 100, 0, 3)), Some("x.wild.test"));
        assert_eq!(table.name_for(Ipv4Addr::new(127, 0, 0, 1)), None);
    }
}
