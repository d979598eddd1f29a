//! The SNI/Host sniffer and the HTTP(S)_PROXY request parser on arbitrary connection starts.
//! A CONNECT's header_len is where the tunnel starts, so it must lie within the bytes given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpcell_runtime::egress::sniff::{client_hello, proxy_request, ProxyRequest};

fuzz_target!(|data: &[u8]| {
    let _ = client_hello(data);
    if let ProxyRequest::Connect { header_len, .. } = proxy_request(data) {
        assert!(header_len <= data.len(), "header_len {header_len} past the {} bytes given", data.len());
    }
});
