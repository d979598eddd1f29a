//! Which resolved addresses the host-side proxy may connect to.
//!
//! The proxy resolves allowed names itself; a name that resolves to loopback, a private network or
//! the cloud metadata service (169.254.169.254) would turn the allowlist into a door to the host's
//! own network, so such destinations are refused unless an entry opts in.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kind of network an address belongs to; only [`AddrClass::Public`] is reachable by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrClass {
    Public,
    Loopback,
    Private,
    LinkLocal,
    Multicast,
    Unspecified,
    Reserved,
}

impl AddrClass {
    pub fn is_public(self) -> bool {
        self == AddrClass::Public
    }

    /// For deny messages: "api.example.com resolves to a loopback address".
    pub fn describe(self) -> &'static str {
        match self {
            AddrClass::Public => "a public address",
            AddrClass::Loopback => "a loopback address",
            AddrClass::Private => "a private address",
            AddrClass::LinkLocal => "a link-local address",
            AddrClass::Multicast => "a multicast address",
            AddrClass::Unspecified => "an unspecified address",
            AddrClass::Reserved => "a reserved address",
        }
    }
}

/// IPv4 ranges, checked in order (first match wins).
const V4: &[([u8; 4], u32, AddrClass)] = &[
    ([0, 0, 0, 0], 8, AddrClass::Unspecified),
    ([127, 0, 0, 0], 8, AddrClass::Loopback),
    ([10, 0, 0, 0], 8, AddrClass::Private),
    ([172, 16, 0, 0], 12, AddrClass::Private),
    ([192, 168, 0, 0], 16, AddrClass::Private),
    ([100, 64, 0, 0], 10, AddrClass::Private), // CGNAT: the provider's network, not the internet
    ([169, 254, 0, 0], 16, AddrClass::LinkLocal), // includes cloud metadata 169.254.169.254
    ([224, 0, 0, 0], 4, AddrClass::Multicast),
    ([240, 0, 0, 0], 4, AddrClass::Reserved), // includes broadcast 255.255.255.255
    ([192, 0, 0, 0], 24, AddrClass::Reserved),
    ([192, 0, 2, 0], 24, AddrClass::Reserved),
    ([198, 18, 0, 0], 15, AddrClass::Reserved), // benchmarking; also the cell's synthetic range
    ([198, 51, 100, 0], 24, AddrClass::Reserved),
    ([203, 0, 113, 0], 24, AddrClass::Reserved),
];

/// IPv6 ranges, checked in order after the exact `::` / `::1` and the IPv4-embedding forms.
const V6: &[(u128, u32, AddrClass)] = &[
    (0xfc00 << 112, 7, AddrClass::Private), // unique local, covers fd00::/8
    (0xfe80 << 112, 10, AddrClass::LinkLocal),
    (0xfec0 << 112, 10, AddrClass::Private), // deprecated site-local: the old private range
    (0xff00 << 112, 8, AddrClass::Multicast),
    (0x2001_0db8 << 96, 32, AddrClass::Reserved), // documentation
];

/// NAT64 well-known prefix 64:ff9b::/96: the gateway connects to the embedded IPv4 address.
const NAT64: u128 = 0x0064_ff9b << 96;

pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let bits = u32::from(ip);
    V4.iter()
        .find(|(net, len, _)| bits >> (32 - len) == u32::from_be_bytes(*net) >> (32 - len))
        .map_or(AddrClass::Public, |(_, _, class)| *class)
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    if ip == Ipv6Addr::UNSPECIFIED {
        return AddrClass::Unspecified;
    }
    if ip == Ipv6Addr::LOCALHOST {
        return AddrClass::Loopback;
    }
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible) reach the IPv4 address: judge that.
    if let Some(v4) = ip.to_ipv4() {
        return classify_v4(v4);
    }
    let bits = u128::from(ip);
    if bits >> 32 == NAT64 >> 32 {
        // The low 32 bits are the IPv4 address; truncation is the point.
        return classify_v4(Ipv4Addr::from(bits as u32));
    }
    V6.iter()
        .find(|(net, len, _)| bits >> (128 - len) == net >> (128 - len))
        .map_or(AddrClass::Public, |(_, _, class)| *class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddrClass::*;

    fn check(cases: &[(&str, AddrClass)]) {
        for (text, want) in cases {
            let ip: IpAddr = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(classify(ip), *want, "{text}");
        }
    }

    #[test]
    fn egress_addr_ipv4_ranges_first_last_and_neighbours() {
        check(&[
            ("0.0.0.0", Unspecified),
            ("0.255.255.255", Unspecified),
            ("1.0.0.0", Public),
            ("9.255.255.255", Public),
            ("10.0.0.0", Private),
            ("10.255.255.255", Private),
            ("11.0.0.0", Public),
            ("100.63.255.255", Public),
            ("100.64.0.0", Private),
            ("100.127.255.255", Private),
            ("100.128.0.0", Public),
            ("126.255.255.255", Public),
            ("127.0.0.0", Loopback),
            ("127.255.255.255", Loopback),
            ("128.0.0.0", Public),
            ("169.253.255.255", Public),
            ("169.254.0.0", LinkLocal),
            ("169.254.169.254", LinkLocal),
            ("169.254.255.255", LinkLocal),
            ("169.255.0.0", Public),
            ("172.15.255.255", Public),
            ("172.16.0.0", Private),
            ("172.31.255.255", Private),
            ("172.32.0.0", Public),
            ("191.255.255.255", Public),
            ("192.0.0.0", Reserved),
            ("192.0.0.255", Reserved),
            ("192.0.1.0", Public),
            ("192.0.1.255", Public),
            ("192.0.2.0", Reserved),
            ("192.0.2.255", Reserved),
            ("192.0.3.0", Public),
            ("192.167.255.255", Public),
            ("192.168.0.0", Private),
            ("192.168.255.255", Private),
            ("192.169.0.0", Public),
            ("198.17.255.255", Public),
            ("198.18.0.0", Reserved),
            ("198.19.255.255", Reserved),
            ("198.20.0.0", Public),
            ("198.51.99.255", Public),
            ("198.51.100.0", Reserved),
            ("198.51.100.255", Reserved),
            ("198.51.101.0", Public),
            ("203.0.112.255", Public),
            ("203.0.113.0", Reserved),
            ("203.0.113.255", Reserved),
            ("203.0.114.0", Public),
            ("223.255.255.255", Public),
            ("224.0.0.0", Multicast),
            ("239.255.255.255", Multicast),
            ("240.0.0.0", Reserved),
            ("255.255.255.254", Reserved),
            ("255.255.255.255", Reserved),
            ("8.8.8.8", Public),
        ]);
    }

    #[test]
    fn egress_addr_ipv6_ranges_first_last_and_neighbours() {
        check(&[
            ("::", Unspecified),
            ("::1", Loopback),
            ("::1:0:0", Public),
            ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Public),
            ("fc00::", Private),
            ("fd00::1", Private),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Private),
            ("fe00::", Public),
            ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Public),
            ("fe80::", LinkLocal),
            ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", LinkLocal),
            ("fec0::", Private),
            ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Private),
            ("ff00::", Multicast),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Multicast),
            ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", Public),
            ("2001:db8::", Reserved),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Reserved),
            ("2001:db9::", Public),
            ("2606:4700::1111", Public),
        ]);
    }

    #[test]
    fn egress_addr_ipv6_embedded_ipv4_is_judged_as_ipv4() {
        check(&[
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:0.0.0.0", Unspecified),
            ("::ffff:255.255.255.255", Reserved),
            ("::ffff:8.8.8.8", Public),
            ("::127.0.0.1", Loopback),
            ("::0.0.0.2", Unspecified),
            ("::8.8.8.8", Public),
            ("64:ff9b::", Unspecified),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("64:ff9b::808:808", Public),
            ("64:ff9b::ffff:ffff", Reserved),
            ("64:ff9b::1:0:0", Public), // just past the /96
            ("64:ff9a:ffff:ffff:ffff:ffff:7f00:1", Public),
        ]);
    }

    #[test]
    fn egress_addr_describe_and_is_public() {
        assert!(Public.is_public());
        for class in [Loopback, Private, LinkLocal, Multicast, Unspecified, Reserved] {
            assert!(!class.is_public(), "{class:?}");
        }
        assert_eq!(Loopback.describe(), "a loopback address");
        assert_eq!(LinkLocal.describe(), "a link-local address");
        assert_eq!(Unspecified.describe(), "an unspecified address");
        assert_eq!(Public.describe(), "a public address");
    }
}
