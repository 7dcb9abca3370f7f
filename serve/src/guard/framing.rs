//! Where a client's HTTP/1.1 request stands, from the bytes it sent: whether the server has all
//! of it (then the server is working and the guard must not cut the connection for idling) or
//! more is to come from the client (then the idle timeout applies).
//!
//! Only the framing is read: the request head (by `httparse`), then a body of `Content-Length`
//! bytes or a chunked body. Whatever the guard cannot follow (a malformed or oversized head, an
//! unknown transfer coding) counts as a request still arriving, which keeps the idle timeout, as
//! before this module existed; the server answers such a request with an error anyway.

/// Longest request head followed; Rocket refuses longer ones.
const MAX_HEAD: usize = 64 * 1024;

/// Longest chunk-size or trailer line followed.
const MAX_LINE: usize = 4 * 1024;

/// Headers per request followed.
const MAX_HEADERS: usize = 128;

/// The client's side of an HTTP/1.1 connection.
#[derive(Debug, Default)]
pub(super) struct RequestFraming {
    state: State,
    /// The head or the chunk line received so far.
    pending: Vec<u8>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Every request sent so far is complete.
    #[default]
    Between,
    /// Receiving a request head.
    Head,
    /// Receiving a body: bytes still to come.
    Body(u64),
    /// Receiving a chunked body.
    Chunked(Chunk),
    /// The framing cannot be followed: the request counts as still arriving.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// A chunk-size line.
    Size,
    /// Chunk data: bytes still to come.
    Data(u64),
    /// The CRLF after chunk data: bytes still to come.
    DataEnd(u64),
    /// A trailer line (an empty one ends the body).
    Trailer,
}

impl RequestFraming {
    /// Whether every request the client began has been received whole.
    pub(super) fn received(&self) -> bool {
        self.state == State::Between
    }

    /// Follows `bytes`, the next the client sent.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            bytes = match self.state {
                State::Between => {
                    self.state = State::Head;
                    bytes
                }
                State::Head => self.head(bytes),
                State::Body(left) => {
                    let (rest, left) = consume(bytes, left);
                    self.state = if left == 0 {
                        State::Between
                    } else {
                        State::Body(left)
                    };
                    rest
                }
                State::Chunked(chunk) => self.chunked(chunk, bytes),
                State::Unknown => &[],
            };
        }
    }

    fn head<'b>(&mut self, bytes: &'b [u8]) -> &'b [u8] {
        let before = self.pending.len();
        let room = MAX_HEAD.saturating_sub(before);
        let taken = &bytes[..bytes.len().min(room)];
        self.pending.extend_from_slice(taken);
        // Parse only once the head can be complete: a client dripping its head a byte at a time
        // would otherwise have it re-parsed from the start for every byte.
        let tail_from = before.saturating_sub(3);
        if !ends_head(&self.pending[tail_from..]) {
            if self.pending.len() >= MAX_HEAD {
                self.unknown();
            }
            return &[];
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&self.pending) {
            Ok(httparse::Status::Complete(length)) if length > before => {
                self.state = body_framing(request.headers);
                self.pending.clear();
                &bytes[length - before..]
            }
            Ok(httparse::Status::Partial) if self.pending.len() < MAX_HEAD => &[],
            _ => {
                self.unknown();
                &[]
            }
        }
    }

    fn chunked<'b>(&mut self, chunk: Chunk, bytes: &'b [u8]) -> &'b [u8] {
        match chunk {
            Chunk::Data(left) | Chunk::DataEnd(left) => {
                let (rest, left) = consume(bytes, left);
                self.state = State::Chunked(match (chunk, left) {
                    (Chunk::Data(_), 0) => Chunk::DataEnd(2),
                    (Chunk::Data(_), _) => Chunk::Data(left),
                    (_, 0) => Chunk::Size,
                    _ => Chunk::DataEnd(left),
                });
                rest
            }
            Chunk::Size | Chunk::Trailer => {
                let Some(rest) = self.line(bytes) else {
                    return &[];
                };
                let line = std::mem::take(&mut self.pending);
                self.state = match chunk {
                    Chunk::Size => match httparse::parse_chunk_size(&line) {
                        Ok(httparse::Status::Complete((_, 0))) => State::Chunked(Chunk::Trailer),
                        Ok(httparse::Status::Complete((_, size))) => {
                            State::Chunked(Chunk::Data(size))
                        }
                        _ => State::Unknown,
                    },
                    _ if line == b"\r\n" || line == b"\n" => State::Between,
                    _ => State::Chunked(Chunk::Trailer),
                };
                rest
            }
        }
    }

    /// Adds `bytes` up to the end of a line to `pending`; returns the rest once the line is
    /// complete.
    fn line<'b>(&mut self, bytes: &'b [u8]) -> Option<&'b [u8]> {
        let end = bytes.iter().position(|&b| b == b'\n');
        let taken = end.map_or(bytes.len(), |i| i + 1);
        self.pending.extend_from_slice(&bytes[..taken]);
        if self.pending.len() > MAX_LINE {
            self.unknown();
            return None;
        }
        end.map(|_| &bytes[taken..])
    }

    fn unknown(&mut self) {
        self.state = State::Unknown;
        self.pending = Vec::new();
    }
}

/// Takes up to `left` bytes: what remains of `bytes`, and of `left`.
fn consume(bytes: &[u8], left: u64) -> (&[u8], u64) {
    let n = usize::try_from(left).map_or(bytes.len(), |l| l.min(bytes.len()));
    (&bytes[n..], left - n as u64)
}

/// Whether `tail` holds the blank line that ends a head (httparse also accepts bare LFs).
fn ends_head(tail: &[u8]) -> bool {
    tail.windows(4).any(|w| w == b"\r\n\r\n") || tail.windows(2).any(|w| w == b"\n\n")
}

/// What follows a request head, by RFC 9112 section 6.3: a chunked body, a body of
/// `Content-Length` bytes, or nothing.
fn body_framing(headers: &[httparse::Header<'_>]) -> State {
    fn named<'h>(
        headers: &'h [httparse::Header<'_>],
        name: &'h str,
    ) -> impl Iterator<Item = &'h str> {
        headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| std::str::from_utf8(h.value).unwrap_or("\u{0}").trim())
    }
    if let Some(coding) = named(headers, "transfer-encoding").last() {
        let last = coding.rsplit(',').next().unwrap_or("").trim();
        return if last.eq_ignore_ascii_case("chunked") {
            State::Chunked(Chunk::Size)
        } else {
            State::Unknown
        };
    }
    let mut lengths = named(headers, "content-length").flat_map(|v| v.split(','));
    let Some(first) = lengths.next() else {
        return State::Between;
    };
    let length = first.trim().parse::<u64>();
    match length {
        Ok(n) if lengths.all(|l| l.trim().parse::<u64>() == Ok(n)) => {
            if n == 0 {
                State::Between
            } else {
                State::Body(n)
            }
        }
        _ => State::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `parts` in turn; whether the requests were received whole after each.
    fn after_each(parts: &[&[u8]]) -> Vec<bool> {
        let mut f = RequestFraming::default();
        parts
            .iter()
            .map(|p| {
                f.feed(p);
                f.received()
            })
            .collect()
    }

    #[test]
    fn a_request_is_received_once_its_head_and_body_are() {
        assert_eq!(
            after_each(&[b"GET /health HTTP/1.1\r\nHost: x\r", b"\n\r\n"]),
            [false, true]
        );
        assert_eq!(
            after_each(&[
                b"POST /predict HTTP/1.1\r\nContent-Length: 5\r\n\r\nab",
                b"cd",
                b"e"
            ]),
            [false, false, true]
        );
        // A body that arrives with its head, and a second request right behind it.
        let two = b"POST /a HTTP/1.1\r\ncontent-length: 2\r\n\r\nhiGET /b HTTP/1.1\r\n\r\n";
        assert_eq!(after_each(&[two]), [true]);
        assert_eq!(after_each(&[&two[..two.len() - 1]]), [false]);
    }

    #[test]
    fn a_head_dripped_a_byte_at_a_time_completes_on_its_last_byte() {
        let request = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
        let bytes: Vec<&[u8]> = request.chunks(1).collect();
        let states = after_each(&bytes);
        assert!(states[..states.len() - 1].iter().all(|r| !r));
        assert_eq!(states.last(), Some(&true));
    }

    #[test]
    fn chunked_bodies_end_with_the_last_chunk_and_trailers() {
        let head = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            after_each(&[head, b"3\r\nabc\r\n", b"0\r\n", b"X-T: 1\r\n", b"\r\n"]),
            [false, false, false, false, true]
        );
        assert_eq!(
            after_each(&[head, b"a;ext=1\r\n0123456789\r\n0\r\n\r\n"]),
            [false, true]
        );
    }

    #[test]
    fn what_cannot_be_followed_counts_as_still_arriving() {
        for request in [
            &b"NOT HTTP AT ALL\r\n\r\n"[..],
            b"POST /a HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
            b"POST /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert_eq!(
                after_each(&[request]),
                [false],
                "{}",
                String::from_utf8_lossy(request)
            );
        }
        let huge = vec![b'a'; MAX_HEAD + 10];
        assert_eq!(after_each(&[b"GET /", &huge, b"\r\n\r\n"]), [false; 3]);
    }
}
