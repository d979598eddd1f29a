//! The relay's newline framer fed one input in several pieces. Byte 0 chooses the limit
//! (16 + 16 × byte, so 16..=4096); byte 1 (mod 8) says how many cut points follow, each two
//! bytes little-endian, modulo the stream's length + 1; the rest is the stream, pushed in the
//! pieces between the (sorted) cut points, then `finish`.
//!
//! Every input byte must be accounted for: line lengths + oversized lengths + newlines ==
//! stream length; a `Line` is at most the limit and holds no newline, an `Oversized` is over
//! it. And the frames must be exactly those of a naive split of the whole stream on `\n`
//! (whatever the pieces), the lines byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpcell_runtime::relay::frame::{Frame, LineFramer};

fuzz_target!(|data: &[u8]| {
    let (max, ncuts, rest) = match data {
        [a, b, rest @ ..] => (16 + usize::from(*a) * 16, usize::from(*b % 8), rest),
        _ => return,
    };
    let header = (ncuts * 2).min(rest.len());
    let (cut_bytes, stream) = rest.split_at(header);
    let mut cuts: Vec<usize> = cut_bytes
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (stream.len() + 1))
        .collect();
    cuts.sort_unstable();

    let mut framer = LineFramer::new(max);
    let mut frames = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain([&stream.len()]) {
        frames.extend(framer.push(&stream[from..to]));
        from = to;
    }
    frames.extend(framer.finish());
    assert_eq!(framer.finish(), None, "finish twice gave a second frame");

    let mut total = 0usize;
    for frame in &frames {
        match frame {
            Frame::Line(line) => {
                assert!(line.len() <= max, "a line of {} bytes, max {max}", line.len());
                assert!(!line.contains(&b'\n'), "a line holding a newline");
                total += line.len();
            }
            Frame::Oversized { len } => {
                assert!(*len > max, "Oversized {{ len: {len} }} within max {max}");
                total += len;
            }
        }
    }
    let newlines = stream.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(total + newlines, stream.len(), "frames (+ newlines) do not account for the input");

    let mut expected: Vec<Frame> = stream
        .split(|&b| b == b'\n')
        .map(|l| if l.len() > max { Frame::Oversized { len: l.len() } } else { Frame::Line(l.to_vec()) })
        .collect();
    // `split` yields a final piece after the last newline; `finish` reports only a non-empty one.
    if stream.is_empty() || stream.ends_with(b"\n") {
        expected.pop();
    }
    assert!(frames == expected, "frames differ from a naive split (max {max}, cuts {cuts:?})");
});
