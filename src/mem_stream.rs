//! An in-memory [`Transport`] for driving a [`crate::conn::Conn`] without a
//! network: scripted reads that can return `WouldBlock`, short writes, and
//! a write side that can refuse bytes; and [`Rig`], a connection on one with
//! its loop context. The one rig the unit tests, the property test, the
//! allocation test, the fuzz targets and the hot-path example use.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use std::time::{Duration, UNIX_EPOCH};

use crate::config::Config;
use crate::conn::{Conn, Transport};
use crate::context::Context;
use crate::inflight::Observer;
use crate::routes::Routes;
use crate::setup::Settings;

/// What the next `read` call returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadStep {
    Data(Vec<u8>),
    WouldBlock,
    Eof,
    /// The peer reset the connection: this read fails with
    /// `ConnectionReset`.
    Reset,
}

#[derive(Debug)]
pub struct MemStream {
    /// Scripted reads; when empty, reads return `WouldBlock`.
    pub reads: VecDeque<ReadStep>,
    /// Everything written so far.
    pub written: Vec<u8>,
    /// Most bytes accepted by one write (short writes when small).
    pub max_write: usize,
    /// While true, writes return `WouldBlock` (a client that stopped reading).
    pub write_blocked: bool,
    /// The server shut its write side.
    pub shut_write: bool,
    /// Corked ([`Transport::cork`]), and how many times it was corked.
    pub corked: bool,
    pub corks: usize,
    /// Count of read and write calls, to check syscall economy.
    pub read_calls: usize,
    pub write_calls: usize,
}

impl Default for MemStream {
    fn default() -> Self {
        MemStream {
            reads: VecDeque::new(),
            written: Vec::new(),
            max_write: usize::MAX,
            write_blocked: false,
            shut_write: false,
            corked: false,
            corks: 0,
            read_calls: 0,
            write_calls: 0,
        }
    }
}

impl MemStream {
    pub fn new() -> MemStream {
        MemStream::default()
    }

    /// Queues `bytes` as data arriving; consecutive pushes are read together
    /// unless separated by [`ReadStep::WouldBlock`].
    pub fn push(&mut self, bytes: &[u8]) {
        self.reads.push_back(ReadStep::Data(bytes.to_vec()));
    }

    /// Queues an EOF from the client. A real socket reports it with the
    /// readiness edge (`is_read_closed`): call `Conn::on_read_closed` too.
    pub fn push_eof(&mut self) {
        self.reads.push_back(ReadStep::Eof);
    }

    /// How much scripted input is left: bytes, plus one for each
    /// `WouldBlock` or EOF step (what a read can still change).
    pub fn unread(&self) -> usize {
        self.reads
            .iter()
            .map(|s| match s {
                ReadStep::Data(d) => d.len(),
                ReadStep::WouldBlock | ReadStep::Eof | ReadStep::Reset => 1,
            })
            .sum()
    }

    /// Takes what the server wrote so far.
    pub fn take_written(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.written)
    }
}

/// One connection (id 1) over a [`MemStream`], with its loop context.
pub struct Rig {
    pub conn: Conn,
    pub io: MemStream,
    pub cx: Context,
}

impl Rig {
    /// A fresh connection in `cx`.
    pub fn new(cx: Context) -> Rig {
        Rig { conn: Conn::new(1, cx.now), io: MemStream::new(), cx }
    }

    /// The default settings, no `--directory`, nothing logged or counted.
    pub fn defaults() -> Rig {
        Rig::new(Rig::context(Settings::from_config(&Config::defaults())))
    }

    /// The loop context with `settings`, no `--directory`.
    pub fn context(settings: Settings) -> Context {
        Context::new(Routes::new(None), settings)
    }

    /// `settings`, counting requests as the server does by default
    /// (metrics on, access log off), and a fixed `Date`, so two runs can be
    /// compared byte for byte.
    pub fn counting(settings: Settings) -> Rig {
        let mut cx = Rig::context(settings);
        cx.date.refresh(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        cx.observe = Observer::new(crate::access_log::AccessLog::off(), Some(Default::default()));
        Rig::new(cx)
    }

    /// `bytes` arrive, and the socket says it is readable.
    pub fn send(&mut self, bytes: &[u8]) {
        self.io.push(bytes);
        self.conn.on_ready(&mut self.io, true, false, &mut self.cx);
    }
}

impl Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_calls += 1;
        match self.reads.pop_front() {
            None | Some(ReadStep::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            Some(ReadStep::Eof) => {
                self.reads.push_front(ReadStep::Eof);
                Ok(0)
            }
            Some(ReadStep::Reset) => Err(io::ErrorKind::ConnectionReset.into()),
            Some(ReadStep::Data(d)) => {
                // Like a kernel socket buffer: one read returns everything
                // queued so far (up to the buffer), not one push at a time.
                self.reads.push_front(ReadStep::Data(d));
                let mut n = 0;
                while n < buf.len() {
                    let Some(ReadStep::Data(d)) = self.reads.front_mut() else { break };
                    let take = d.len().min(buf.len() - n);
                    buf[n..n + take].copy_from_slice(&d[..take]);
                    d.drain(..take);
                    n += take;
                    if d.is_empty() {
                        self.reads.pop_front();
                    }
                }
                Ok(n)
            }
        }
    }
}

impl Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_calls += 1;
        if self.shut_write {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        if self.write_blocked {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.max_write);
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for MemStream {
    fn cork(&mut self, on: bool) -> io::Result<()> {
        self.corks += usize::from(on && !self.corked);
        self.corked = on;
        Ok(())
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shut_write = true;
        Ok(())
    }
}
