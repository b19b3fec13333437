//! What follows a response head that is too large to queue whole: a file
//! range handed to `sendfile`, or a file gzip-compressed as it is sent.
//!
//! A compressed file's length is unknown until its end, so it goes in
//! chunked transfer coding (RFC 9112 §7.1): each refill reads a bounded
//! piece of the file, compresses it, and appends whatever the compressor
//! gives out as one chunk. Memory stays bounded whatever the file size: the
//! compressor's state and one piece, while a slow client takes its time.

use std::io::{self, Write};
use std::os::unix::fs::FileExt;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::http::response::{FileBody, Generate};

/// File bytes read and compressed per refill.
const GZIP_PIECE: usize = 16 * 1024;

#[derive(Debug)]
pub(super) enum Source {
    /// Bytes sent from the page cache by `sendfile`.
    Sendfile(FileBody),
    /// Bytes read, compressed and framed as chunks in user space.
    Gzip(Box<GzipStream>),
    /// A body made as it is sent (a listing), a piece per refill.
    Generated(Box<GeneratedStream>),
}

/// A [`Generate`]d body: each piece one chunk for HTTP/1.1, or as it is for
/// HTTP/1.0 (which has no chunks; the close ends the body).
#[derive(Debug)]
pub(super) struct GeneratedStream {
    body: Box<dyn Generate>,
    chunked: bool,
    piece: Vec<u8>,
}

impl GeneratedStream {
    pub fn new(body: Box<dyn Generate>, chunked: bool) -> GeneratedStream {
        GeneratedStream { body, chunked, piece: Vec::new() }
    }

    /// Appends the next piece to `out`, framed; returns its size and
    /// whether the body is complete.
    pub fn refill(&mut self, out: &mut Vec<u8>) -> io::Result<(usize, bool)> {
        self.piece.clear();
        let done = self.body.next_piece(&mut self.piece)?;
        let made = self.piece.len();
        if !self.chunked {
            out.extend_from_slice(&self.piece);
            return Ok((made, done));
        }
        // An empty chunk would end the body early: only non-empty pieces.
        if made > 0 {
            let mut hex = [0u8; 16];
            out.extend_from_slice(hex_len(made, &mut hex));
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&self.piece);
            out.extend_from_slice(b"\r\n");
        }
        if done {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        Ok((made, done))
    }
}

pub(super) struct GzipStream {
    file: FileBody,
    encoder: GzEncoder<Vec<u8>>,
}

impl std::fmt::Debug for GzipStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipStream").field("offset", &self.file.offset).field("left", &self.file.len).finish()
    }
}

impl GzipStream {
    pub fn new(file: FileBody) -> GzipStream {
        // Fast: this runs inside the loop, and every client waits for it.
        let encoder = GzEncoder::new(Vec::with_capacity(GZIP_PIECE), Compression::fast());
        GzipStream { file, encoder }
    }

    /// Reads and compresses the next piece, appending what the compressor
    /// gives out as one chunk to `out` (nothing if it is still gathering),
    /// and the last chunk after the end of the file. Returns the file bytes
    /// consumed and whether the body is complete. A file that shrank ends
    /// the connection: the chunked body cannot be finished honestly.
    // Never inlined: inlined into `Conn::advance` (through `Output::send`),
    // its 16 KiB `piece` made every turn's stack frame 17.5 KiB, probed a
    // page at a time, gzip or not.
    #[inline(never)]
    pub fn refill(&mut self, out: &mut Vec<u8>) -> io::Result<(usize, bool)> {
        let mut piece = [0u8; GZIP_PIECE];
        let mut used = 0;
        if self.file.len > 0 {
            let want = usize::try_from(self.file.len).unwrap_or(GZIP_PIECE).min(GZIP_PIECE);
            used = self.file.file.read_at(&mut piece[..want], self.file.offset)?;
            if used == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.file.offset += used as u64;
            self.file.len -= used as u64;
            self.encoder.write_all(&piece[..used])?;
        }
        let done = self.file.len == 0;
        if done {
            self.encoder.try_finish()?;
        }
        // The compressor only appends to its Vec: taking the bytes out
        // between writes is safe, and an empty chunk would end the body.
        let compressed = self.encoder.get_mut();
        if !compressed.is_empty() {
            let mut hex = [0u8; 16];
            out.extend_from_slice(hex_len(compressed.len(), &mut hex));
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(compressed);
            out.extend_from_slice(b"\r\n");
            compressed.clear();
        }
        if done {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        Ok((used, done))
    }
}

/// `n` in lower-case hex, as a chunk size line wants it.
fn hex_len(mut n: usize, buf: &mut [u8; 16]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[n % 16];
        n /= 16;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::io::Read;

    /// Decodes a chunked body (no trailers), checking its framing.
    pub(crate) fn dechunk(mut wire: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line_end = wire.windows(2).position(|w| w == b"\r\n").expect("size line");
            let size = usize::from_str_radix(std::str::from_utf8(&wire[..line_end]).unwrap(), 16).unwrap();
            wire = &wire[line_end + 2..];
            if size == 0 {
                assert_eq!(wire, b"\r\n", "last chunk, no trailers, nothing after");
                return body;
            }
            body.extend_from_slice(&wire[..size]);
            assert_eq!(&wire[size..size + 2], b"\r\n");
            wire = &wire[size + 2..];
        }
    }

    #[derive(Debug)]
    struct Count(u8);
    impl Generate for Count {
        fn next_piece(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
            self.0 -= 1;
            if self.0.is_multiple_of(2) {
                out.extend_from_slice(b"ab"); // every other piece empty
            }
            Ok(self.0 == 0)
        }
    }

    #[test]
    fn a_generated_body_is_chunked_for_http11_and_raw_for_http10() {
        for (chunked, want) in [(true, &b"2\r\nab\r\n2\r\nab\r\n0\r\n\r\n"[..]), (false, b"abab")] {
            let mut g = GeneratedStream::new(Box::new(Count(4)), chunked);
            let mut wire = Vec::new();
            while !g.refill(&mut wire).unwrap().1 {}
            assert_eq!(wire, want);
        }
        assert_eq!(dechunk(b"2\r\nab\r\n2\r\nab\r\n0\r\n\r\n"), b"abab");
    }

    #[test]
    fn hex_lengths() {
        let mut b = [0u8; 16];
        assert_eq!(hex_len(0, &mut b), b"0");
        assert_eq!(hex_len(255, &mut b), b"ff");
        assert_eq!(hex_len(0x10000, &mut b), b"10000");
        assert_eq!(hex_len(usize::MAX, &mut b), b"ffffffffffffffff");
    }

    #[test]
    fn a_file_comes_out_as_chunks_of_one_gzip_stream() {
        let text: Vec<u8> = (0..40_000u32).flat_map(|i| format!("line {i} of some text\n").into_bytes()).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&text).unwrap();
        let mut g = GzipStream::new(FileBody { file, offset: 0, len: text.len() as u64 });
        let (mut wire, mut refills, mut consumed) = (Vec::new(), 0, 0);
        loop {
            let (used, done) = g.refill(&mut wire).unwrap();
            consumed += used;
            refills += 1;
            assert!(used <= GZIP_PIECE);
            if done {
                break;
            }
        }
        assert_eq!(consumed, text.len());
        assert!(refills > text.len() / GZIP_PIECE, "one bounded piece per refill");
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&dechunk(&wire)[..]).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, text);
    }

    #[test]
    fn a_file_that_shrank_is_an_error_not_a_short_body() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"short").unwrap();
        let mut g = GzipStream::new(FileBody { file, offset: 0, len: 100 });
        let mut wire = Vec::new();
        assert_eq!(g.refill(&mut wire).unwrap(), (5, false));
        assert_eq!(g.refill(&mut wire).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
