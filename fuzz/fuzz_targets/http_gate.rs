//! The plain-HTTP gate fed one input in two pieces, split where the input's first two bytes
//! say. The gate forwards bytes unchanged and in order (holding back only what it has not
//! checked yet), so what it returns, concatenated, must be a prefix of what it was fed —
//! including when the second feed cuts the connection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpcell_runtime::egress::http_gate::HttpGate;

fuzz_target!(|data: &[u8]| {
    let (split, stream) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])) % (rest.len() + 1), rest),
        _ => return,
    };
    let mut gate = HttpGate::new("ok.test");
    let mut out = Vec::new();
    for piece in [&stream[..split], &stream[split..]] {
        match gate.feed(piece) {
            Ok(forwarded) => out.extend(forwarded),
            Err(_) => break,
        }
    }
    assert!(stream.starts_with(&out), "forwarded {} bytes that are not a prefix of the input", out.len());
});
