//! The in-cell DNS stub's brain: one query in, one reply out, and nothing ever forwarded.
//!
//! Allowed names get their synthetic IPv4 address; every other name gets NXDOMAIN, so a DNS
//! lookup can neither reach an unlisted host nor carry data out of the cell (RFC 1035 wire format).

use std::net::Ipv4Addr;

const HEADER_LEN: usize = 12;
const TYPE_A: u16 = 1;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
const TTL_SECS: u32 = 60;
const MAX_LABEL: usize = 63;
const MAX_NAME: usize = 255; // wire form, length octets and the root label included

const NOERROR: u8 = 0;
const FORMERR: u8 = 1;
const NXDOMAIN: u8 = 3;
const NOTIMP: u8 = 4;
const REFUSED: u8 = 5;

/// The reply to a DNS query, or None when the packet is not a query worth answering (shorter
/// than a header, or itself a response: answering those could loop two stubs).
///
/// `lookup` is called at most once, with the lower-cased name without a trailing dot; it returns
/// the name's synthetic address, or None when the name is not allowed.
pub fn answer(query: &[u8], lookup: &mut dyn FnMut(&str) -> Option<Ipv4Addr>) -> Option<Vec<u8>> {
    let header = query.get(..HEADER_LEN)?;
    let (flags_hi, id) = (header[2], [header[0], header[1]]);
    if flags_hi & 0x80 != 0 {
        return None;
    }
    let reply = |rcode: u8, question: &[u8], answer: Option<Ipv4Addr>| build(id, flags_hi, rcode, question, answer);
    if (flags_hi >> 3) & 0x0f != 0 {
        return Some(reply(NOTIMP, &[], None));
    }
    if header[4..6] != [0, 1] {
        return Some(reply(FORMERR, &[], None));
    }
    let Some(q) = parse_question(&query[HEADER_LEN..]) else {
        return Some(reply(FORMERR, &[], None));
    };
    if q.class != CLASS_IN {
        return Some(reply(REFUSED, q.wire, None));
    }
    // A name we cannot spell unambiguously (a label holding '.', say) is never allowed.
    let Some(ip) = q.name.and_then(|name| lookup(&name)) else {
        return Some(reply(NXDOMAIN, q.wire, None));
    };
    // AAAA and other types: the name exists but has no such record (NODATA), so clients fall
    // back to A instead of treating the name as missing.
    let record = matches!(q.qtype, TYPE_A | TYPE_ANY).then_some(ip);
    Some(reply(NOERROR, q.wire, record))
}

struct Question<'a> {
    /// The question exactly as sent (QNAME, QTYPE, QCLASS), echoed in the reply.
    wire: &'a [u8],
    name: Option<String>,
    qtype: u16,
    class: u16,
}

/// Parse the question that follows the header; anything after it (EDNS OPT records in the
/// additional section, trailing garbage) is ignored.
fn parse_question(buf: &[u8]) -> Option<Question<'_>> {
    let mut pos = 0;
    let mut name = String::new();
    let mut spellable = true;
    loop {
        let len = usize::from(*buf.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        // 0xC0 is a compression pointer (nothing earlier to point at), 0x40/0x80 are obsolete
        // extended label types: malformed in a question either way.
        if len > MAX_LABEL {
            return None;
        }
        let label = buf.get(pos..pos + len)?;
        pos += len;
        if pos + 1 > MAX_NAME {
            return None;
        }
        spellable &= label.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
        if !name.is_empty() {
            name.push('.');
        }
        name.extend(label.iter().map(|b| char::from(b.to_ascii_lowercase())));
    }
    let fixed = buf.get(pos..pos + 4)?;
    Some(Question {
        wire: &buf[..pos + 4],
        name: spellable.then_some(name),
        qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        class: u16::from_be_bytes([fixed[2], fixed[3]]),
    })
}

fn build(id: [u8; 2], query_flags_hi: u8, rcode: u8, question: &[u8], answer: Option<Ipv4Addr>) -> Vec<u8> {
    // QR=1, opcode and RD copied, AA=1 (we are the authority for the cell), TC=0; RA=0, Z=0.
    let flags_hi = 0x80 | (query_flags_hi & 0x78) | 0x04 | (query_flags_hi & 0x01);
    let qdcount = u8::from(!question.is_empty());
    let ancount = u8::from(answer.is_some());
    let mut out = Vec::with_capacity(HEADER_LEN + question.len() + 16);
    out.extend_from_slice(&id);
    out.extend_from_slice(&[flags_hi, rcode, 0, qdcount, 0, ancount, 0, 0, 0, 0]);
    out.extend_from_slice(question);
    if let Some(ip) = answer {
        out.extend_from_slice(&[0xc0, 0x0c]); // the name: a pointer to the question's QNAME
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL_SECS.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: Ipv4Addr = Ipv4Addr::new(127, 100, 0, 7);

    /// A query laid out the way glibc's res_mkquery builds it: RD=1, one question, and (with
    /// `options edns0`) an OPT pseudo-record in the additional section.
    fn query(id: u16, name: &str, qtype: u16, edns: bool) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)]);
        for label in name.split('.').filter(|l| !l.is_empty()) {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        if edns {
            // root name, TYPE OPT(41), UDP size 1200, ext-rcode/version/flags 0, RDLEN 0
            q.extend_from_slice(&[0, 0, 41, 0x04, 0xb0, 0, 0, 0, 0, 0, 0]);
        }
        q
    }

    /// Answers with a table of one allowed name, recording every name looked up.
    fn ask(packet: &[u8], seen: &mut Vec<String>) -> Option<Vec<u8>> {
        answer(packet, &mut |name| {
            seen.push(name.to_string());
            (name == "api.github.com").then_some(ALLOWED)
        })
    }

    fn rcode(reply: &[u8]) -> u8 {
        reply[3] & 0x0f
    }

    fn ancount(reply: &[u8]) -> u16 {
        u16::from_be_bytes([reply[6], reply[7]])
    }

    #[test]
    fn egress_dns_exact_reply_bytes_for_an_allowed_a_query() {
        let q = query(0xbeef, "api.github.com", TYPE_A, false);
        let reply = ask(&q, &mut Vec::new());
        let mut want = vec![0xbe, 0xef, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 0];
        want.extend_from_slice(b"\x03api\x06github\x03com\x00\x00\x01\x00\x01");
        want.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 100, 0, 7]);
        assert_eq!(reply, Some(want));
    }

    #[test]
    fn egress_dns_glibc_query_with_edns_opt_is_answered_without_echoing_opt() {
        let q = query(0x1234, "api.github.com", TYPE_A, true);
        let mut seen = Vec::new();
        let reply = ask(&q, &mut seen).unwrap_or_default();
        assert_eq!(seen, ["api.github.com"]);
        assert_eq!(reply[..12], [0x12, 0x34, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 0]);
        // The question is echoed up to QCLASS; the 11-byte OPT record is not.
        assert_eq!(reply[12..q.len() - 11], q[12..q.len() - 11]);
        assert_eq!(reply.len(), q.len() - 11 + 16);
        assert_eq!(reply[reply.len() - 4..], [127, 100, 0, 7]);
    }

    #[test]
    fn egress_dns_unlisted_name_is_nxdomain() {
        let q = query(7, "evil.example", TYPE_A, false);
        let mut seen = Vec::new();
        let reply = ask(&q, &mut seen).unwrap_or_default();
        assert_eq!(seen, ["evil.example"]);
        let mut want = vec![0, 7, 0x85, NXDOMAIN, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(&q[12..]);
        assert_eq!(reply, want);
    }

    #[test]
    fn egress_dns_aaaa_and_mx_for_an_allowed_name_are_nodata() {
        for qtype in [28u16, 15] {
            let q = query(9, "api.github.com", qtype, false);
            let reply = ask(&q, &mut Vec::new()).unwrap_or_default();
            let mut want = vec![0, 9, 0x85, NOERROR, 0, 1, 0, 0, 0, 0, 0, 0];
            want.extend_from_slice(&q[12..]);
            assert_eq!(reply, want, "qtype {qtype}");
        }
    }

    #[test]
    fn egress_dns_any_gets_the_a_record() {
        let q = query(9, "api.github.com", TYPE_ANY, false);
        let reply = ask(&q, &mut Vec::new()).unwrap_or_default();
        assert_eq!((rcode(&reply), ancount(&reply)), (NOERROR, 1));
        assert_eq!(reply[q.len()..q.len() + 4], [0xc0, 0x0c, 0, 1], "an A record, not ANY");
    }

    #[test]
    fn egress_dns_name_is_lowercased_and_echoed_verbatim() {
        let q = query(1, "API.GitHub.COM", TYPE_A, false);
        let mut seen = Vec::new();
        let reply = ask(&q, &mut seen).unwrap_or_default();
        assert_eq!(seen, ["api.github.com"]);
        assert_eq!((rcode(&reply), ancount(&reply)), (NOERROR, 1));
        assert_eq!(reply[12..q.len()], q[12..], "the question keeps the client's spelling");
    }

    #[test]
    fn egress_dns_trailing_dot_is_not_part_of_the_name() {
        // "api.github.com." in a resolver's config becomes the same labels on the wire.
        let q = query(1, "api.github.com.", TYPE_A, false);
        let mut seen = Vec::new();
        assert_eq!(ask(&q, &mut seen).map(|r| rcode(&r)), Some(NOERROR));
        assert_eq!(seen, ["api.github.com"]);
    }

    #[test]
    fn egress_dns_label_containing_a_dot_is_never_looked_up() {
        // One label "api.github.com" must not alias the three-label name.
        let mut q = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 14];
        q.extend_from_slice(b"api.github.com\x00\x00\x01\x00\x01");
        let mut seen = Vec::new();
        let reply = ask(&q, &mut seen).unwrap_or_default();
        assert!(seen.is_empty(), "{seen:?}");
        assert_eq!((rcode(&reply), ancount(&reply)), (NXDOMAIN, 0));
    }

    #[test]
    fn egress_dns_two_questions_is_formerr() {
        let mut q = query(0x4242, "api.github.com", TYPE_A, false);
        q[5] = 2;
        let mut seen = Vec::new();
        let reply = ask(&q, &mut seen);
        assert_eq!(reply, Some(vec![0x42, 0x42, 0x85, FORMERR, 0, 0, 0, 0, 0, 0, 0, 0]));
        assert!(seen.is_empty());
    }

    #[test]
    fn egress_dns_responses_are_ignored() {
        let mut q = query(1, "api.github.com", TYPE_A, false);
        q[2] |= 0x80;
        assert_eq!(ask(&q, &mut Vec::new()), None);
    }

    #[test]
    fn egress_dns_other_opcodes_are_notimp() {
        let mut q = query(1, "api.github.com", TYPE_A, false);
        q[2] = 0x28 | 0x01; // opcode 5 (UPDATE), RD
        assert_eq!(ask(&q, &mut Vec::new()), Some(vec![0, 1, 0xad, NOTIMP, 0, 0, 0, 0, 0, 0, 0, 0]));
    }

    #[test]
    fn egress_dns_non_in_class_is_refused() {
        let mut q = query(1, "api.github.com", TYPE_A, false);
        let last = q.len() - 1;
        q[last] = 3; // CHAOS
        let reply = ask(&q, &mut Vec::new()).unwrap_or_default();
        assert_eq!((rcode(&reply), ancount(&reply)), (REFUSED, 0));
        assert_eq!(reply[12..], q[12..]);
    }

    #[test]
    fn egress_dns_compression_pointer_in_question_is_formerr() {
        let mut q = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x03api\xc0\x0c\x00\x01\x00\x01");
        let mut seen = Vec::new();
        assert_eq!(ask(&q, &mut seen), Some(vec![0, 1, 0x85, FORMERR, 0, 0, 0, 0, 0, 0, 0, 0]));
        assert!(seen.is_empty());
    }

    #[test]
    fn egress_dns_overlong_names_are_formerr() {
        let label = "a".repeat(64);
        let q = query(1, &label, TYPE_A, false);
        assert_eq!(ask(&q, &mut Vec::new()).map(|r| rcode(&r)), Some(FORMERR));
        // 3 × (1 + 63) + (1 + 62) + 1 = 256 bytes > 255 …
        let long = format!("{}.{}", vec!["b".repeat(63); 3].join("."), "b".repeat(62));
        assert_eq!(ask(&query(1, &long, TYPE_A, false), &mut Vec::new()).map(|r| rcode(&r)), Some(FORMERR));
        // … while 3 × 64 + (1 + 61) + 1 = 255 bytes is the longest legal name.
        let longest = format!("{}.{}", vec!["c".repeat(63); 3].join("."), "d".repeat(61));
        assert_eq!(ask(&query(1, &longest, TYPE_A, false), &mut Vec::new()).map(|r| rcode(&r)), Some(NXDOMAIN));
    }

    #[test]
    fn egress_dns_every_truncation_is_none_or_formerr() {
        let q = query(0x0102, "api.github.com", TYPE_A, true);
        let question_end = q.len() - 11;
        for len in 0..q.len() {
            let mut seen = Vec::new();
            let reply = ask(&q[..len], &mut seen);
            if len < HEADER_LEN {
                assert_eq!(reply, None, "len {len}");
            } else if len < question_end {
                assert_eq!(reply, Some(vec![1, 2, 0x85, FORMERR, 0, 0, 0, 0, 0, 0, 0, 0]), "len {len}");
                assert!(seen.is_empty(), "len {len}");
            } else {
                // A cut OPT record is trailing data we ignore anyway.
                assert_eq!(reply.map(|r| (rcode(&r), ancount(&r))), Some((NOERROR, 1)), "len {len}");
            }
        }
    }

    #[test]
    fn egress_dns_trailing_garbage_is_ignored() {
        let mut q = query(1, "api.github.com", TYPE_A, false);
        let plain = ask(&q, &mut Vec::new());
        q.extend_from_slice(&[0xff; 40]);
        assert_eq!(ask(&q, &mut Vec::new()), plain);
    }
}
