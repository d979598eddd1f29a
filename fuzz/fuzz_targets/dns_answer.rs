//! The in-cell DNS stub on arbitrary packets. Besides never panicking, it must keep the
//! contract its doc comment states:
//! - a reply is at least a header (12 bytes) and carries the query's ID;
//! - None only for packets shorter than a header or with QR set (responses);
//! - `lookup` is called at most once, with a lower-case name without a trailing dot.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use mcpcell_runtime::egress::dns::answer;

fuzz_target!(|data: &[u8]| {
    let mut calls = 0;
    let reply = answer(data, &mut |name| {
        calls += 1;
        assert!(!name.ends_with('.'), "lookup got a trailing dot: {name:?}");
        assert!(!name.bytes().any(|b| b.is_ascii_uppercase()), "lookup got upper case: {name:?}");
        match name {
            "api.github.com" => Some(Ipv4Addr::new(127, 100, 0, 7)),
            "ok.test" => Some(Ipv4Addr::new(127, 100, 0, 8)),
            _ => None,
        }
    });
    assert!(calls <= 1, "lookup called {calls} times");
    match reply {
        Some(reply) => {
            assert!(reply.len() >= 12, "a reply shorter than a header: {reply:02x?}");
            if data.len() >= 2 {
                assert_eq!(reply[..2], data[..2], "the reply's ID differs from the query's");
            }
        }
        None => assert!(data.len() < 12 || data[2] & 0x80 != 0, "a query left unanswered"),
    }
});
