//! The profile parser on arbitrary UTF-8: parse_str must return Ok or Err, never panic, and
//! its error must render (Display and Debug) without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpcell_profiles::{parse_str, LoadContext, Origin};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let ctx = LoadContext { home: "/home/u".into(), profile_dirs: vec![], check_paths: false };
    match parse_str(text, Origin::File("f.toml".into()), &ctx) {
        Ok(profile) => {
            let _ = format!("{profile:?}");
        }
        Err(err) => {
            let _ = format!("{err}");
            let _ = format!("{err:?}");
        }
    }
});
