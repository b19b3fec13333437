//! Shared integration-test helpers: the real server on port 0 (in process,
//! or the real binary), a temporary `--directory`, a small raw-TCP client
//! that reads responses byte-exactly (pipelining included), and what a test
//! needs from the host (a tool, IPv6 loopback, descriptors), which under CI
//! must be there.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loophttp::{Config, Handle, Server};

/// How long any single test read may block before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How much later than due a timer or a response may come: this host may
/// have 2 cores shared with parallel builds and the other tests. Generous,
/// yet far below the defaults the tests tell apart (10 s header timeout,
/// 60 s keep-alive).
pub const LATE: Duration = Duration::from_secs(2);

// ---- what a test needs from this host ---------------------------------------

/// True under CI (`CI` set, and not to `false` or `0`): the library's one rule.
pub use loophttp::ci::under_ci;

/// Whether the test can go on: `found` is Ok, or why not. A test that
/// cannot run is skipped with a note on a developer's machine but fails
/// under CI, where a skip would hide that the behaviour was never checked.
pub fn require(what: &str, found: Result<(), String>) -> bool {
    match found {
        Ok(()) => true,
        Err(why) if under_ci() => panic!("CI is set and this test needs {what}: {why}"),
        Err(why) => {
            println!("skipped (not under CI): needs {what}: {why}");
            false
        }
    }
}

/// Whether the program `name` is on `PATH` (see [`require`]).
pub fn have_tool(name: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| dir.join(name).is_file());
    require(&format!("`{name}`"), if found { Ok(()) } else { Err("not on PATH".into()) })
}

/// Whether this host can use IPv6 loopback (see [`require`]).
pub fn have_ipv6_loopback() -> bool {
    let bound = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).map(drop);
    require("IPv6 loopback", bound.map_err(|e| format!("cannot bind [::1]: {e}")))
}

/// Whether this process (and so an in-process server) can hold `need`
/// descriptors once its soft open-file limit is raised to the hard one
/// (see [`require`]).
pub fn have_fds(need: u64) -> bool {
    let limit = loophttp::sys::raise_nofile_limit().map_err(|e| format!("RLIMIT_NOFILE: {e}"));
    let enough = limit.and_then(|n| if n >= need { Ok(()) } else { Err(format!("RLIMIT_NOFILE is {n}")) });
    require(&format!("{need} file descriptors"), enough)
}

/// The real server, in this process, on an ephemeral port with a temp dir.
pub struct TestServer {
    pub port: u16,
    pub dual_stack: bool,
    handle: Option<Handle>,
    dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with(|_| {})
    }

    /// Starts with the defaults changed by `adjust` (port 0, host `::`, a
    /// temp directory that clients may write: `--allow-upload` and
    /// `--allow-delete`, as `./your_program.sh` runs it; the read-only
    /// default is tested on the real binary, `tests/safe_defaults.rs`).
    pub fn with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::defaults();
        config.port = 0;
        config.directory = Some(dir.path().to_path_buf());
        (config.allow_upload, config.allow_delete) = (true, true);
        // The access log would go to the test binary's stdout: tests that
        // read it choose a file.
        config.access_log = loophttp::access_log::Destination::Off;
        adjust(&mut config);
        let server = Server::bind(config).expect("bind");
        let port = server.local_addr().port();
        let dual_stack = server.dual_stack();
        let handle = server.spawn().expect("spawn");
        TestServer { port, dual_stack, handle: Some(handle), dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn addr_v4(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr_v4())
    }

    /// A client over IPv6 loopback, if this host has it.
    pub fn client_v6(&self) -> Option<Client> {
        let addr = SocketAddr::from((Ipv6Addr::LOCALHOST, self.port));
        TcpStream::connect_timeout(&addr, IO_TIMEOUT).ok().map(Client::from_stream)
    }

    /// One request on a fresh connection; returns its response.
    pub fn request(&self, raw: &[u8]) -> Resp {
        let mut c = self.client();
        c.send(raw);
        c.response()
    }

    /// `GET path` with `Connection: close`.
    pub fn get(&self, path: &str) -> Resp {
        self.request(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().expect("server stopped cleanly");
        }
    }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw TCP client that keeps unread bytes between responses.
pub struct Client {
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect"))
    }

    pub fn from_stream(s: TcpStream) -> Client {
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Client { reader: BufReader::new(s) }
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream().write_all(bytes).expect("send");
    }

    /// Reads one response to a non-HEAD request.
    pub fn response(&mut self) -> Resp {
        self.read_response(false)
    }

    /// Reads one response to a HEAD request (Content-Length but no body).
    pub fn head_response(&mut self) -> Resp {
        self.read_response(true)
    }

    fn read_response(&mut self, head: bool) -> Resp {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        assert!(line.starts_with("HTTP/1.1 "), "bad status line {line:?}");
        let status: u16 = line[9..12].parse().expect("status code");
        let reason = line[13..].trim_end().to_string();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header line");
            let l = line.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').expect("header colon");
            headers.push((n.to_string(), v.trim().to_string()));
        }
        let mut resp = Resp { status, reason, headers, body: Vec::new() };
        if head || status < 200 || status == 204 || status == 304 {
            return resp;
        }
        if let Some(len) = resp.header("content-length") {
            let mut body = vec![0; len.parse().expect("length")];
            self.reader.read_exact(&mut body).expect("body");
            resp.body = body;
        } else if resp.header("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
            resp.body = self.read_chunked();
        } else {
            self.reader.read_to_end(&mut resp.body).expect("body to EOF");
        }
        resp
    }

    fn read_chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap(), 16).unwrap();
            if size == 0 {
                loop {
                    line.clear();
                    self.reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        return body;
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            self.reader.read_exact(&mut body[start..]).unwrap();
            line.clear();
            self.reader.read_line(&mut line).unwrap();
        }
    }

    /// True if the server closes the connection (EOF or reset) before
    /// `within`; any bytes still arriving are read and dropped.
    pub fn closed_within(&mut self, within: Duration) -> bool {
        self.read_until_end(within).1 != End::StillOpen
    }

    /// Reads whatever arrives until the server ends the connection or
    /// `within` passes; returns what arrived and how it ended.
    pub fn read_until_end(&mut self, within: Duration) -> (Vec<u8>, End) {
        let deadline = Instant::now() + within;
        let mut got = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (got, End::StillOpen);
            }
            self.stream().set_read_timeout(Some(left)).unwrap();
            match self.reader.read(&mut buf) {
                Ok(0) => return (got, End::Eof),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return (got, End::StillOpen);
                }
                Err(_) => return (got, End::Reset),
            }
        }
    }

    /// True if nothing arrives and the connection stays open for `quiet`.
    pub fn still_open_after(&mut self, quiet: Duration) -> bool {
        self.stream().set_read_timeout(Some(quiet)).unwrap();
        let mut b = [0u8; 1];
        let open = matches!(self.reader.read(&mut b),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
        self.stream().set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        open
    }
}

/// How a connection ended, as the client saw it.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Eof,
    Reset,
    StillOpen,
}

/// Waits until `path`, just written, can be executed: a process forked
/// by another test thread while it was open for writing holds it open
/// until that process execs (`ETXTBSY`, "Text file busy", meanwhile).
pub fn wait_executable(path: &Path) {
    let started = eventually(IO_TIMEOUT, || {
        let spawned = Command::new(path).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        match spawned {
            Ok(mut child) => {
                let _ = child.kill();
                let _ = child.wait();
                Some(())
            }
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => None,
            Err(e) => panic!("{}: {e}", path.display()),
        }
    });
    assert!(started.is_some(), "{} stayed busy", path.display());
}

/// Retries `f` until it returns Some or `within` passes.
pub fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Lists a directory's entry names, sorted.
pub fn dir_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into()).collect();
    v.sort();
    v
}

/// The real binary on port 0 (the port is read from its startup log line)
/// with its whole log captured: a thread reads stderr line by line (so the
/// pipe never fills and stalls the server) and every line, the startup ones
/// included, can be searched with a deadline.
pub struct BinServer {
    pub child: Child,
    pub port: u16,
    /// The startup line: `... listening on ADDR ...: URL...`.
    pub startup_line: String,
    /// Every line received so far, in order.
    pub lines: Vec<String>,
    rx: std::sync::mpsc::Receiver<String>,
}

impl BinServer {
    pub fn start(args: &[&str]) -> BinServer {
        BinServer::start_with(args, |_| {})
    }

    /// Like [`BinServer::start`], running the binary at `LOOPHTTP_TEST_BIN`
    /// if set: to see a test fail on an older build of loophttp.
    pub fn under_test(args: &[&str]) -> BinServer {
        match std::env::var_os("LOOPHTTP_TEST_BIN") {
            Some(bin) => BinServer::start_program(Path::new(&bin), args, |_| {}),
            None => BinServer::start(args),
        }
    }

    /// Descriptors the server process holds now.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |d| d.count())
    }

    /// Like [`BinServer::start`], with the command changed by `adjust` first
    /// (resource limits, environment).
    pub fn start_with(args: &[&str], adjust: impl FnOnce(&mut Command)) -> BinServer {
        BinServer::start_program(Path::new(env!("CARGO_BIN_EXE_loophttp")), args, adjust)
    }

    /// Like [`BinServer::start_with`], running the binary at `program` (a
    /// copy of it that another user may execute).
    pub fn start_program(program: &Path, args: &[&str], adjust: impl FnOnce(&mut Command)) -> BinServer {
        let mut cmd = Command::new(program);
        cmd.args(["--port", "0"]).args(args).stdout(Stdio::null());
        adjust(&mut cmd);
        BinServer::from_command(cmd)
    }

    /// Starts `cmd` (which runs loophttp, perhaps through a launcher; its
    /// stdin and stdout are the caller's to set) and waits for its startup line.
    pub fn from_command(mut cmd: Command) -> BinServer {
        cmd.stderr(Stdio::piped());
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let mut child = cmd.spawn().expect("start loophttp");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut bin = BinServer { child, port: 0, startup_line: String::new(), lines: Vec::new(), rx };
        let Some(line) = bin.wait_for_line(IO_TIMEOUT, |l| l.contains("listening on ")) else {
            panic!("loophttp {args:?} did not start listening; log: {:#?}", bin.lines);
        };
        let addr = line.split("listening on ").nth(1).and_then(|r| r.split_whitespace().next()).expect("address");
        bin.port = addr.trim_end_matches(':').parse::<SocketAddr>().expect("socket address in log").port();
        bin.startup_line = line;
        bin
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET path` over IPv4 with `Connection: close`.
    pub fn get(&self, path: &str) -> Resp {
        let mut c = Client::connect(([127, 0, 0, 1], self.port).into());
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
        c.response()
    }

    /// Takes the lines logged so far without waiting.
    pub fn collect(&mut self) -> &[String] {
        self.lines.extend(self.rx.try_iter());
        &self.lines
    }

    /// The first line (already seen or arriving within `within`) matching
    /// `pred`; None if none came in time or the log ended.
    pub fn wait_for_line(&mut self, within: Duration, mut pred: impl FnMut(&str) -> bool) -> Option<String> {
        if let Some(l) = self.lines.iter().find(|l| pred(l)) {
            return Some(l.clone());
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.rx.recv_timeout(left).ok()?;
            self.lines.push(line);
            let line = self.lines.last().expect("just pushed");
            if pred(line) {
                return Some(line.clone());
            }
        }
    }
}

impl Drop for BinServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the source tree, for the tests that read it ----------------------------

/// Every `.rs` file under `src/`, sorted.
pub fn source_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("source directory") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    files.sort();
    files
}
