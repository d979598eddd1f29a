//! Newline-delimited framing of the stdio JSON-RPC stream, without re-serialising anything.
//!
//! A [`LineFramer`] is fed whatever a `read` returned and hands back complete lines as the exact
//! bytes that arrived (minus the `\n` that ended them), so the relay can forward them unchanged.
//! A line longer than the limit is dropped as it streams past: memory stays bounded by the limit,
//! and the caller gets a single [`Frame::Oversized`] for it, in its place in the stream.

/// One unit of the stream, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One frame, WITHOUT its trailing `\n`. A trailing `\r` is kept: the bytes are not ours to change.
    Line(Vec<u8>),
    /// A line longer than the limit was dropped. `len` is its length without the `\n`, counted up
    /// to its newline (or to EOF, when it is reported by [`LineFramer::finish`]). Reported once
    /// per such line, when its end has been seen.
    Oversized { len: usize },
}

/// Splits a byte stream into `\n`-terminated frames of at most `max` bytes each.
#[derive(Debug, Clone)]
pub struct LineFramer {
    /// Longest frame (without its `\n`) that is returned as a [`Frame::Line`].
    max: usize,
    /// The start of the current, unfinished line. Never longer than `max`.
    buf: Vec<u8>,
    /// The current line has exceeded `max`: its bytes are being dropped up to its newline.
    discarding: bool,
    /// While `discarding`: how many bytes of the current line have been seen (and dropped).
    dropped: usize,
}

impl LineFramer {
    /// A framer that accepts frames of at most `max` bytes (not counting the `\n`).
    pub fn new(max: usize) -> Self {
        LineFramer { max, buf: Vec::new(), discarding: false, dropped: 0 }
    }

    /// Feed bytes read from a pipe; returns complete frames in order. Bytes of an oversized line
    /// are discarded up to and including its newline (memory stays bounded by `max`), and one
    /// [`Frame::Oversized`] is returned for it.
    pub fn push(&mut self, data: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        let mut rest = data;
        // memchr: a vectorised search; 1 MiB lines make this the relay's hot loop.
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let (line, after) = rest.split_at(nl);
            // `after` starts with the newline itself.
            rest = after.get(1..).unwrap_or_default();
            out.push(self.end_line(line));
        }
        self.partial(rest);
        out
    }

    /// At EOF: a final line without a newline (returned as a [`Frame::Line`], so that transparency
    /// holds), or [`Frame::Oversized`] if that final line was too long; `None` if the stream ended
    /// with a newline. The framer is empty afterwards.
    pub fn finish(&mut self) -> Option<Frame> {
        if self.discarding {
            let len = self.dropped;
            self.discarding = false;
            self.dropped = 0;
            Some(Frame::Oversized { len })
        } else if self.buf.is_empty() {
            None
        } else {
            Some(Frame::Line(std::mem::take(&mut self.buf)))
        }
    }

    /// The newline ending the current line was seen; `tail` is the part of the line that came
    /// in the current chunk.
    fn end_line(&mut self, tail: &[u8]) -> Frame {
        if self.discarding {
            let len = self.dropped.saturating_add(tail.len());
            self.discarding = false;
            self.dropped = 0;
            return Frame::Oversized { len };
        }
        let len = self.buf.len().saturating_add(tail.len());
        if len > self.max {
            self.buf.clear();
            return Frame::Oversized { len };
        }
        if self.buf.is_empty() {
            Frame::Line(tail.to_vec())
        } else {
            self.buf.extend_from_slice(tail);
            Frame::Line(std::mem::take(&mut self.buf))
        }
    }

    /// Bytes of a line whose end has not arrived yet.
    fn partial(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.discarding {
            self.dropped = self.dropped.saturating_add(bytes.len());
            return;
        }
        let len = self.buf.len().saturating_add(bytes.len());
        if len > self.max {
            // Drop what we hold now rather than at the newline: memory stays bounded by `max`.
            self.buf = Vec::new();
            self.discarding = true;
            self.dropped = len;
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> Frame {
        Frame::Line(s.as_bytes().to_vec())
    }

    /// All frames for `input` pushed in chunks of at most `chunk` bytes, then `finish`, checking
    /// that the framer never holds more than `max` bytes.
    fn frames_chunked(max: usize, input: &[u8], chunk: usize) -> Vec<Frame> {
        let mut framer = LineFramer::new(max);
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            out.extend(framer.push(piece));
            assert!(framer.buf.len() <= max, "buffered {} > max {}", framer.buf.len(), max);
        }
        out.extend(framer.finish());
        assert!(framer.buf.is_empty());
        out
    }

    /// All frames for `input` split at `at` into two pushes, then `finish`.
    fn frames_split(max: usize, input: &[u8], at: usize) -> Vec<Frame> {
        let mut framer = LineFramer::new(max);
        let (a, b) = input.split_at(at);
        let mut out = framer.push(a);
        out.extend(framer.push(b));
        out.extend(framer.finish());
        out
    }

    #[test]
    fn whole_input_in_one_push() {
        let mut framer = LineFramer::new(100);
        let frames = framer.push(b"{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(frames, vec![line("{\"a\":1}"), line("{\"b\":2}")]);
        assert_eq!(framer.finish(), None);
    }

    #[test]
    fn split_at_every_byte_boundary_gives_the_same_frames() {
        let input = b"{\"jsonrpc\":\"2.0\",\"id\":1}\r\n\n{\"x\":\"\xc3\xa9\"}\nlast";
        let expected = vec![
            line("{\"jsonrpc\":\"2.0\",\"id\":1}\r"),
            line(""),
            Frame::Line(b"{\"x\":\"\xc3\xa9\"}".to_vec()),
            line("last"),
        ];
        for at in 0..=input.len() {
            assert_eq!(frames_split(100, input, at), expected, "split at {at}");
        }
        for chunk in 1..=input.len() {
            assert_eq!(frames_chunked(100, input, chunk), expected, "chunks of {chunk}");
        }
    }

    #[test]
    fn empty_lines_are_frames() {
        let mut framer = LineFramer::new(10);
        assert_eq!(framer.push(b"\n\n"), vec![line(""), line("")]);
        assert_eq!(framer.push(b"\n"), vec![line("")]);
        assert_eq!(framer.finish(), None);
    }

    #[test]
    fn crlf_is_kept() {
        let mut framer = LineFramer::new(10);
        assert_eq!(framer.push(b"ab\r\n\r\n"), vec![line("ab\r"), line("\r")]);
        assert_eq!(framer.push(b"c\r"), vec![]);
        assert_eq!(framer.push(b"\n"), vec![line("c\r")]);
    }

    #[test]
    fn line_of_exactly_max_passes_and_one_more_is_oversized() {
        let mut framer = LineFramer::new(4);
        assert_eq!(framer.push(b"abcd\nabcde\n"), vec![line("abcd"), Frame::Oversized { len: 5 }]);
        // The `\r` counts: it is part of the frame.
        assert_eq!(framer.push(b"abcd\r\n"), vec![Frame::Oversized { len: 5 }]);
        assert_eq!(framer.push(b"ab"), vec![]);
        assert_eq!(framer.push(b"cd\n"), vec![line("abcd")]);
    }

    #[test]
    fn zero_max_allows_only_empty_lines() {
        let mut framer = LineFramer::new(0);
        assert_eq!(framer.push(b"\na\n\n"), vec![line(""), Frame::Oversized { len: 1 }, line("")]);
    }

    #[test]
    fn oversized_line_in_the_middle_at_every_chunk_size() {
        let big = "x".repeat(50);
        let input = format!("first\n{big}\nsecond\n\nthird");
        let expected = vec![line("first"), Frame::Oversized { len: 50 }, line("second"), line(""), line("third")];
        for chunk in 1..=input.len() {
            assert_eq!(frames_chunked(10, input.as_bytes(), chunk), expected, "chunks of {chunk}");
        }
        for at in 0..=input.len() {
            assert_eq!(frames_split(10, input.as_bytes(), at), expected, "split at {at}");
        }
    }

    #[test]
    fn oversized_lines_back_to_back() {
        let mut framer = LineFramer::new(3);
        assert_eq!(
            framer.push(b"aaaa\nbbbbb\ncc\n"),
            vec![Frame::Oversized { len: 4 }, Frame::Oversized { len: 5 }, line("cc")]
        );
    }

    #[test]
    fn memory_is_bounded_while_discarding_a_huge_line() {
        let mut framer = LineFramer::new(16);
        let chunk = [b'y'; 4096];
        for _ in 0..256 {
            assert_eq!(framer.push(&chunk), vec![]);
            assert!(framer.buf.capacity() <= 16, "capacity {}", framer.buf.capacity());
        }
        assert_eq!(framer.push(b"yy\nok\n"), vec![Frame::Oversized { len: 4096 * 256 + 2 }, line("ok")]);
        assert_eq!(framer.finish(), None);
    }

    #[test]
    fn the_held_part_is_dropped_once_the_line_grows_past_max() {
        let mut framer = LineFramer::new(8);
        assert_eq!(framer.push(b"12345678"), vec![]);
        assert_eq!(framer.buf.len(), 8);
        assert_eq!(framer.push(b"9"), vec![]);
        assert!(framer.buf.is_empty());
        assert_eq!(framer.push(b"\n"), vec![Frame::Oversized { len: 9 }]);
    }

    #[test]
    fn finish_without_trailing_data() {
        let mut framer = LineFramer::new(10);
        assert_eq!(framer.push(b"a\n"), vec![line("a")]);
        assert_eq!(framer.finish(), None);
        assert_eq!(LineFramer::new(10).finish(), None);
    }

    #[test]
    fn finish_with_trailing_data() {
        let mut framer = LineFramer::new(10);
        assert_eq!(framer.push(b"a\nbc\r"), vec![line("a")]);
        assert_eq!(framer.finish(), Some(line("bc\r")));
        // The framer is empty and usable afterwards.
        assert_eq!(framer.finish(), None);
        assert_eq!(framer.push(b"d\n"), vec![line("d")]);
    }

    #[test]
    fn finish_while_discarding_reports_the_oversized_tail() {
        let mut framer = LineFramer::new(3);
        assert_eq!(framer.push(b"ok\nabcdef"), vec![line("ok")]);
        assert_eq!(framer.finish(), Some(Frame::Oversized { len: 6 }));
        assert_eq!(framer.finish(), None);
        assert_eq!(framer.push(b"abc\n"), vec![line("abc")]);
    }

    #[test]
    fn concatenated_lines_reproduce_the_input() {
        // Transparency: joining the lines with `\n` (and no `\n` after a final unterminated one)
        // gives back exactly the bytes that went in.
        let input: &[u8] = b"{\"a\":1}\r\n\n\xff\xfe not json\n \t{}\ntail";
        for chunk in 1..=input.len() {
            let frames = frames_chunked(64, input, chunk);
            let mut joined = Vec::new();
            for (i, frame) in frames.iter().enumerate() {
                let Frame::Line(bytes) = frame else { panic!("unexpected {frame:?}") };
                if i > 0 {
                    joined.push(b'\n');
                }
                joined.extend_from_slice(bytes);
            }
            assert_eq!(joined, input, "chunks of {chunk}");
        }
    }

    #[test]
    fn matches_a_naive_split_on_pseudo_random_input() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..300 {
            let max = (next() % 12) as usize;
            let len = (next() % 80) as usize;
            let input: Vec<u8> =
                (0..len).map(|_| if next() % 5 == 0 { b'\n' } else { b'a' + (next() % 3) as u8 }).collect();
            let mut expected: Vec<Frame> = input
                .split(|&b| b == b'\n')
                .map(|l| if l.len() > max { Frame::Oversized { len: l.len() } } else { Frame::Line(l.to_vec()) })
                .collect();
            // `split` yields a final (possibly empty) piece after the last newline; `finish` only
            // reports a non-empty one.
            if input.is_empty() || input.ends_with(b"\n") {
                expected.pop();
            }
            let chunk = 1 + (next() % 9) as usize;
            assert_eq!(frames_chunked(max, &input, chunk), expected, "max {max}, chunk {chunk}, input {input:?}");
        }
    }
}
