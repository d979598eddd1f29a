//! The relay's JSON-RPC peek and the tool-description poisoning checks on arbitrary frames.
//!
//! - `peek` never panics; for a request or a response, the relay's own error response for its
//!   id (`error_response(Some(&id), -32600, "x")`) is valid JSON and peeks as an error
//!   response with the same id.
//! - `sanitize` and `findings` on the input as (lossy) UTF-8 never panic; the cleaned text has
//!   none of the characters `sanitize` documents as removed (ESC, controls but `\n`/`\t`,
//!   zero-width, bidi, tags) and `removed` is exactly the number of characters dropped; each
//!   finding names one of `RULES` with an excerpt of at most `EXCERPT_MAX_CHARS` characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpcell_runtime::relay::message::{error_response, peek, Kind};
use mcpcell_runtime::relay::poison::{findings, sanitize, EXCERPT_MAX_CHARS, RULES};

fn removed_by_sanitize(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{61c}'
        | '\u{e0000}'..='\u{e007f}')
}

fuzz_target!(|data: &[u8]| {
    let peeked = peek(data);
    if let Kind::Request { id, .. } | Kind::Response { id, .. } = &peeked.kind {
        let reply = error_response(Some(id), -32600, "x");
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&reply) {
            panic!("error_response for {id:?} is not JSON ({e}): {}", String::from_utf8_lossy(&reply));
        }
        let back = peek(&reply);
        match &back.kind {
            Kind::Response { id: got, is_error: true } => assert_eq!(got, id, "error_response changed the id"),
            other => panic!("error_response for {id:?} peeks as {other:?}: {}", String::from_utf8_lossy(&reply)),
        }
    }

    let text = String::from_utf8_lossy(data);
    let (clean, removed) = sanitize(&text);
    for bad in ['\u{200b}', '\u{202e}', '\u{feff}', '\u{1b}'] {
        assert!(!clean.contains(bad), "sanitize left U+{:04X} in {clean:?}", u32::from(bad));
    }
    assert!(!clean.chars().any(removed_by_sanitize), "sanitize left an invisible character in {clean:?}");
    assert_eq!(clean.chars().count() + removed, text.chars().count(), "removed count is off");
    for finding in findings(&text) {
        assert!(RULES.contains(&finding.rule), "unknown rule {:?}", finding.rule);
        assert!(
            finding.excerpt.chars().count() <= EXCERPT_MAX_CHARS,
            "excerpt of {} chars",
            finding.excerpt.chars().count()
        );
    }
});
