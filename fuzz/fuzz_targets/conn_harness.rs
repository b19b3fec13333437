//! The harness the `conn` and `conn_split` targets share: one connection
//! over a [`MemStream`], driven like the event loop drives it.
//!
//! Input: byte 0 is flags (below), byte 1 says how many of the next bytes
//! (0 to 31) describe pieces (cycled; none means the stream in one piece),
//! the rest is the stream. A piece byte `b`: bits 0-4 a size (+1), bit 6
//! that size × 512, bit 5 writes refused during that event, bit 7 a
//! `WouldBlock` after the piece.
//!
//! Every call into the connection is checked: at most [`MAX_RESUMES`]
//! `resume` calls and a quiet state within [`MAX_EVENTS`] events (no endless
//! loop), output under [`MAX_OUTPUT`], output that starts with a status line,
//! and nothing written once `is_closed()`.

#![allow(dead_code)] // each target uses a different part

use std::sync::OnceLock;
use std::time::Duration;

use loophttp::Config;
use loophttp::setup::Settings;
use loophttp::mem_stream::{ReadStep, Rig};

/// Inputs this long or longer are skipped; output is checked against [`MAX_OUTPUT`].
pub const MAX_INPUT: usize = 64 * 1024;
pub const MAX_OUTPUT: usize = 4 << 20;
pub const MAX_RESUMES: usize = 10_000;
pub const MAX_EVENTS: usize = 10_000;
/// Far past every timeout the server has.
pub const LATER: Duration = Duration::from_secs(3600);

pub const EOF: u8 = 1;
pub const SMALL_LIMITS: u8 = 2;
pub const TIMEOUTS: u8 = 4;
/// Events only for what the connection registered (as `server.rs` does);
/// otherwise every event is spuriously readable and writable.
pub const EXACT_EVENTS: u8 = 8;
/// With the EOF, report the hang-up edge (`on_read_closed`).
pub const HANGUP: u8 = 16;
/// Bits 5-7 pick the most bytes one write accepts.
pub const MAX_WRITE: [usize; 8] = [1, 3, 16, 100, 1500, 16 * 1024, 64 * 1024, usize::MAX];

/// Script left, bytes written, closed, wants read, wants write, write side shut.
type Snapshot = (usize, usize, bool, bool, bool, bool);

pub struct Harness {
    pub rig: Rig,
    exact_events: bool,
    resumes: usize,
}

impl Harness {
    pub fn new(flags: u8) -> Harness {
        // Parsed once: clap is slow and its code would only add noise to the coverage.
        static DEFAULTS: OnceLock<Settings> = OnceLock::new();
        let mut settings = DEFAULTS.get_or_init(|| Settings::from_config(&Config::defaults())).clone();
        if flags & SMALL_LIMITS != 0 {
            settings.parse.max_uri = 32;
            settings.parse.max_head = 256;
            settings.parse.max_headers = 4;
            settings.max_body = 1000;
        }
        // A fixed `Date`, so two runs can be compared byte for byte; request
        // accounting on, as in the server: fuzzed too.
        let mut rig = Rig::counting(settings);
        rig.io.max_write = MAX_WRITE[usize::from(flags >> 5)];
        Harness { rig, exact_events: flags & EXACT_EVENTS != 0, resumes: 0 }
    }

    /// One readiness event, then `resume` while the connection yields.
    pub fn event(&mut self) {
        let want = self.rig.conn.want();
        let (r, w) = if self.exact_events { (want.read, want.write) } else { (true, true) };
        self.call(|h| h.rig.conn.on_ready(&mut h.rig.io, r, w, &mut h.rig.cx));
        while self.rig.conn.yielded() {
            self.resumes += 1;
            assert!(self.resumes <= MAX_RESUMES, "connection keeps yielding");
            self.call(|h| h.rig.conn.resume(&mut h.rig.io, &mut h.rig.cx));
        }
    }

    /// Runs one call into the connection and checks the output rules.
    pub fn call(&mut self, f: impl FnOnce(&mut Harness)) {
        let (closed, before) = (self.rig.conn.is_closed(), self.rig.io.written.len());
        f(self);
        let written = &self.rig.io.written;
        assert!(!closed || written.len() == before, "wrote {} bytes after closing", written.len() - before);
        assert!(written.len() < MAX_OUTPUT, "output grew to {} bytes", written.len());
        let start = written.len().min(9);
        assert_eq!(&written[..start], &b"HTTP/1.1 "[..start], "output does not start with a status line");
    }

    /// What an event can change that the harness can see.
    fn snapshot(&self) -> Snapshot {
        let script = self.rig.io.unread();
        let want = self.rig.conn.want();
        (script, self.rig.io.written.len(), self.rig.conn.is_closed(), want.read, want.write, self.rig.io.shut_write)
    }

    /// Writes open again; events until nothing changes any more.
    pub fn settle(&mut self) {
        self.rig.io.write_blocked = false;
        for _ in 0..MAX_EVENTS {
            if self.rig.conn.is_closed() {
                return;
            }
            let before = self.snapshot();
            self.event();
            if self.snapshot() == before {
                let want = self.rig.conn.want();
                assert!(want.read || want.write, "open connection waits for no event");
                return;
            }
        }
        panic!("no quiet state after {MAX_EVENTS} events");
    }
}

/// The parts of a fuzz input: flags, piece descriptions, the stream.
pub fn split_input(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let [flags, n, rest @ ..] = data else { return None };
    if data.len() >= MAX_INPUT {
        return None;
    }
    let (pieces, stream) = rest.split_at(usize::from(n % 32).min(rest.len()));
    Some((*flags, pieces, stream))
}

/// Feeds `stream` in the pieces `pieces` describe, one event each; then the
/// EOF if the flags ask for it, and events until the connection is quiet.
pub fn feed(h: &mut Harness, flags: u8, pieces: &[u8], stream: &[u8]) {
    let mut pieces = pieces.iter().copied().cycle();
    let mut pos = 0;
    while pos < stream.len() {
        let p = pieces.next();
        let end = match p {
            Some(p) if p & 0x40 != 0 => pos + (usize::from(p & 0x1f) + 1) * 512,
            Some(p) => pos + usize::from(p & 0x1f) + 1,
            None => stream.len(),
        };
        let end = end.min(stream.len());
        h.rig.io.push(&stream[pos..end]);
        if p.is_some_and(|p| p & 0x80 != 0) {
            h.rig.io.reads.push_back(ReadStep::WouldBlock);
        }
        h.rig.io.write_blocked = p.is_some_and(|p| p & 0x20 != 0);
        pos = end;
        h.event();
    }
    if flags & EOF != 0 {
        h.rig.io.push_eof();
        if flags & HANGUP != 0 {
            h.rig.conn.on_read_closed();
        }
    }
    h.settle();
}
