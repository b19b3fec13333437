//! A connection's two byte queues and the I/O loops that fill and drain
//! them. They decide nothing about HTTP: they read until the socket is
//! drained and write until it is full, and say which happened.

use std::io;
use std::os::unix::fs::FileExt;

use super::Transport;
use super::source::{GeneratedStream, GzipStream, Source};
use crate::context::BufPool;
use crate::error::{interrupted, would_block};
use crate::http::response::{FileBody, Generate};

/// Largest piece handed to one `sendfile` call.
const SENDFILE_CHUNK: usize = 1 << 20;

/// A file with more than this left is sent corked ([`Transport::cork`]).
/// `sendfile` moves a file through the socket 64 KiB of pages at a time,
/// and without a cork (the listener sets `TCP_NODELAY`) each piece goes
/// out at once: on loopback, whose MSS is 65,483 bytes, as a full segment
/// and a 53-byte one (tcpdump: one per 64 KiB, ~26,000 a second on one
/// 10 MiB stream; nginx, corked, sent ~270). Every segment costs a trip
/// through both TCP stacks. Corked, the kernel sends full segments only,
/// and uncorking at the end sends the rest. It costs two `setsockopt`
/// per file, which only a large file repays.
pub(super) const CORK_MIN: u64 = 256 * 1024;
/// File bytes compressed per `send` call (one turn of the loop) at most:
/// compressing runs in the loop, so a fast reader of a gzip body yields to
/// the others after two 16 KiB pieces, about a quarter of a millisecond
/// of work; the turn's time budget (`MAX_TURN_TIME`) is checked after
/// each send too.
const GZIP_PER_SEND: usize = 32 * 1024;
/// File bodies up to this size are read into the output queue behind their
/// head and leave with it in one write: `pread` + one `send` is one call
/// fewer than `send` + `sendfile`, and pipelined small files batch too.
/// Larger ones go by `sendfile`, which copies nothing through user space.
pub const INLINE_FILE_MAX: u64 = 16 * 1024;

/// Input bytes `buf[start..end]`; `buf` is fully initialised once, so reads
/// need no zeroing. Empty (no allocation) while the connection is idle.
#[derive(Debug, Default)]
pub(super) struct Input {
    pub buf: Vec<u8>,
    pub start: usize,
    pub end: usize,
    /// How much of the current head has been looked at already.
    pub scanned: usize,
}

/// What one read gave.
pub(super) enum Filled {
    /// New bytes; `drained` if the read was short, which on a stream socket
    /// means it is empty now (epoll(7)): no extra read to see `WouldBlock`.
    Data {
        bytes: usize,
        drained: bool,
    },
    Eof,
    /// The buffer is full of an unfinished head: the parser's size limit
    /// answers that, so there is nothing to read into.
    NoRoom,
}

impl Input {
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn consume(&mut self, n: usize) {
        self.start += n;
        self.scanned = 0;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// One read into the free space (taking a buffer from the pool if the
    /// connection had none). `WouldBlock` and other errors are the caller's.
    pub fn fill(&mut self, io: &mut impl Transport, pool: &mut BufPool) -> io::Result<Filled> {
        if self.buf.is_empty() {
            self.buf = pool.take_input();
        }
        if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.scanned = self.scanned.saturating_sub(self.start);
            self.end -= self.start;
            self.start = 0;
        }
        let room = self.buf.len() - self.end;
        if room == 0 {
            return Ok(Filled::NoRoom);
        }
        match io.recv(&mut self.buf[self.end..])? {
            0 => Ok(Filled::Eof),
            n => {
                self.end += n;
                Ok(Filled::Data { bytes: n, drained: n < room })
            }
        }
    }
}

/// The write side of the socket, as the last write left it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteSide {
    /// Writes go through (as far as we know).
    #[default]
    Ready,
    /// The last write came up short: the socket buffer is full, so wait
    /// for a writable edge before writing again.
    Blocked,
}

/// Unwritten response bytes, then at most one file being sent.
#[derive(Debug, Default)]
pub(super) struct Output {
    pub buf: Vec<u8>,
    pub pos: usize,
    pub source: Option<Source>,
    pub side: WriteSide,
    /// The socket is corked for the file being sent.
    pub corked: bool,
}

impl Output {
    pub fn blocked(&self) -> bool {
        self.side == WriteSide::Blocked
    }

    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pending() == 0 && self.source.is_none()
    }

    /// Queues a file body behind the bytes already queued: read in now if
    /// small, else kept for `sendfile`. A read that fails or comes up short
    /// (the file shrank) leaves the rest to `sendfile`, which then reports
    /// the error: the promised `Content-Length` is never silently broken.
    pub fn push_file(&mut self, mut f: FileBody) {
        if f.len <= INLINE_FILE_MAX {
            let start = self.buf.len();
            self.buf.resize(start + f.len as usize, 0);
            let mut filled = 0;
            while filled < f.len as usize {
                match f.file.read_at(&mut self.buf[start + filled..], f.offset + filled as u64) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if interrupted(&e) => {}
                    Err(_) => break,
                }
            }
            self.buf.truncate(start + filled);
            f.offset += filled as u64;
            f.len -= filled as u64;
            if f.len == 0 {
                return; // all in the queue; dropping `f` closes the file
            }
        }
        self.source = Some(Source::Sendfile(f));
    }

    /// Queues a file to be gzip-compressed as it is sent (chunked).
    pub fn push_gzip(&mut self, f: FileBody) {
        self.source = Some(Source::Gzip(Box::new(GzipStream::new(f))));
    }

    /// Queues a body made as it is sent: chunked if `chunked`, else ended
    /// by the close (HTTP/1.0).
    pub fn push_generated(&mut self, body: Box<dyn Generate>, chunked: bool) {
        self.source = Some(Source::Generated(Box::new(GeneratedStream::new(body, chunked))));
    }

    /// Writes queued bytes, then the source, until everything is out, the
    /// socket is full ([`WriteSide::Blocked`]), or `budget` bytes went out (or
    /// [`GZIP_PER_SEND`] bytes were compressed): then it returns with work
    /// left and not blocked, and the caller yields to other connections.
    /// Returns the bytes sent; an error means the connection is dead.
    pub fn send<T: Transport>(&mut self, io: &mut T, budget: usize) -> io::Result<usize> {
        let (mut sent, mut compressed, mut generated) = (0, 0, false);
        loop {
            sent += self.write_queue(io)?;
            if self.blocked() || sent >= budget || compressed >= GZIP_PER_SEND || generated {
                return Ok(sent);
            }
            match &mut self.source {
                None => return Ok(sent),
                Some(Source::Sendfile(f)) => {
                    if !self.corked && f.len > CORK_MIN {
                        io.cork(true)?;
                        self.corked = true;
                    }
                    let want = usize::try_from(f.len).unwrap_or(usize::MAX).min(SENDFILE_CHUNK);
                    match io.send_file(&f.file, f.offset, want) {
                        // The file shrank under us: the promised length cannot be kept.
                        Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                        Ok(n) => {
                            f.offset += n as u64;
                            f.len -= n as u64;
                            sent += n;
                            if f.len == 0 {
                                self.source = None;
                                if self.corked {
                                    // The last partial segment goes out now.
                                    io.cork(false)?;
                                    self.corked = false;
                                }
                            } else if n < want {
                                self.side = WriteSide::Blocked; // the socket buffer is full
                            }
                        }
                        Err(e) if would_block(&e) => self.side = WriteSide::Blocked,
                        Err(e) if interrupted(&e) => {}
                        Err(e) => return Err(e),
                    }
                }
                Some(Source::Gzip(g)) => {
                    let (used, done) = g.refill(&mut self.buf)?;
                    compressed += used;
                    if done {
                        self.source = None;
                    }
                }
                // One piece per turn: each of its rows cost a system call
                // (a listing's `stat`), so the next waits for the next turn.
                Some(Source::Generated(g)) => {
                    let (_, done) = g.refill(&mut self.buf)?;
                    generated = true;
                    if done {
                        self.source = None;
                    }
                }
            }
        }
    }

    /// Writes the queued bytes until they are all out or the socket is full.
    fn write_queue<T: Transport>(&mut self, io: &mut T) -> io::Result<usize> {
        let mut sent = 0;
        // A head with a file behind it may wait to share a segment with it.
        let more = matches!(self.source, Some(Source::Sendfile(_)));
        while self.pos < self.buf.len() {
            let queued = &self.buf[self.pos..];
            match if more { io.write_more(queued) } else { io.send(queued) } {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.pos += n;
                    sent += n;
                    if self.pos < self.buf.len() {
                        // Short write: the socket buffer is full. Keep the
                        // rest and wait for the writable edge.
                        self.side = WriteSide::Blocked;
                        return Ok(sent);
                    }
                }
                Err(e) if would_block(&e) => {
                    self.side = WriteSide::Blocked;
                    return Ok(sent);
                }
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
        self.buf.clear();
        self.pos = 0;
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_body(content: &[u8], offset: u64, len: u64) -> FileBody {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(content).unwrap();
        FileBody { file, offset, len }
    }

    #[test]
    fn small_file_is_read_into_the_queue_behind_the_head() {
        let mut out = Output { buf: b"HEAD\r\n\r\n".to_vec(), ..Output::default() };
        out.push_file(file_body(b"0123456789", 2, 5));
        assert_eq!(out.buf, b"HEAD\r\n\r\n23456");
        assert!(out.source.is_none(), "nothing left for sendfile");
    }

    #[test]
    fn large_file_is_left_for_sendfile() {
        let big = vec![7u8; INLINE_FILE_MAX as usize + 1];
        let mut out = Output::default();
        out.push_file(file_body(&big, 0, big.len() as u64));
        assert!(out.buf.is_empty());
        assert!(matches!(&out.source, Some(Source::Sendfile(f)) if f.len == big.len() as u64));
    }

    /// Sends everything queued, as writable events would.
    fn send_all(out: &mut Output, io: &mut crate::mem_stream::MemStream, corked_while_sending: &mut bool) {
        while !out.is_empty() {
            out.send(io, usize::MAX).unwrap();
            *corked_while_sending |= io.corked;
            out.side = WriteSide::Ready;
        }
    }

    #[test]
    fn a_large_file_goes_out_corked_and_its_end_uncorked() {
        let big = vec![7u8; CORK_MIN as usize + 1];
        let mut out = Output { buf: b"HEAD\r\n\r\n".to_vec(), ..Output::default() };
        out.push_file(file_body(&big, 0, big.len() as u64));
        let mut io = crate::mem_stream::MemStream::new();
        let mut corked = false;
        send_all(&mut out, &mut io, &mut corked);
        assert!(corked, "corked while the file went out");
        assert_eq!((io.corks, io.corked), (1, false), "corked once, and uncorked at the end");
        assert_eq!(io.written.len(), 8 + big.len());
    }

    #[test]
    fn a_file_not_worth_two_setsockopt_is_never_corked() {
        let mid = vec![7u8; CORK_MIN as usize];
        let mut out = Output::default();
        out.push_file(file_body(&mid, 0, mid.len() as u64));
        assert!(out.source.is_some(), "sent by sendfile");
        let mut io = crate::mem_stream::MemStream::new();
        let mut corked = false;
        send_all(&mut out, &mut io, &mut corked);
        assert_eq!((io.corks, corked), (0, false));
        assert_eq!(io.written.len(), mid.len());
    }

    #[test]
    fn file_that_shrank_keeps_the_missing_rest_for_sendfile_to_report() {
        // Promised 8 bytes, only 4 exist: the 4 are queued, the other 4 stay
        // owed, so the send fails instead of breaking Content-Length silently.
        let mut out = Output::default();
        out.push_file(file_body(b"abcd", 0, 8));
        assert_eq!(out.buf, b"abcd");
        let Some(Source::Sendfile(f)) = &out.source else { panic!("the rest is still owed") };
        assert_eq!((f.offset, f.len), (4, 4));
    }
}
