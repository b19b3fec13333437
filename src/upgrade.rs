//! The in-place upgrade (SIGUSR2), done the socket-activation way: the
//! running process starts the binary found at its own path, with the same
//! arguments and environment, and hands it every listening socket as an
//! inherited descriptor (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`), so
//! the new process adopts them through [`crate::listener::activated`],
//! the path systemd's sockets take. The sockets never close, so no
//! connection is refused or reset: the kernel keeps queueing them, and
//! whichever process accepts first serves.
//!
//! ```text
//!  old process                                   new process
//!  SIGUSR2 ─► pipe, fork, exec ────────────────► adopts fds 3..3+N, binds nothing
//!             wait ≤ --upgrade-timeout           workers registered with their Poll
//!             ◄──────────────── one byte ─────── pid file written, "ready" on the pipe
//!  MAINPID=new (systemd), drain, exit 0          serving
//!
//!  EOF on the pipe (it died) or the timeout: log why, SIGTERM it, reap it,
//!  keep serving; the pid file is ours again.
//! ```
//!
//! No mio here; [`Handover`] is how the loops and the upgrading thread
//! share what they must (see `docs/OPERATIONS.md`, "In-place upgrade").

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::listener::LISTEN_FDS_START;

/// The variable naming the descriptor a new process reports readiness on.
pub const READY_FD_VAR: &str = "LOOPHTTP_READY_FD";
/// The byte the new process writes when it is serving.
const READY: u8 = b'R';
/// How long a child that failed or was told to stop may take to exit
/// before it is killed (it has served nobody: nothing to drain).
const REAP_WITHIN: Duration = Duration::from_secs(5);

/// What the process hands to a successor, and how the upgrading thread
/// tells the loops to drain. Shared by every worker and that thread.
#[derive(Default)]
pub struct Handover {
    /// A duplicate of each listening socket, with its `LISTEN_FDNAMES`
    /// name. Closed as soon as the process drains: a socket whose last
    /// descriptor stays open after the loops stopped accepting would
    /// queue connections nobody takes, and reset them at exit.
    sockets: Mutex<Vec<(String, OwnedFd)>>,
    drain_asked: AtomicBool,
    /// A successor serves: the pid file is its from now on.
    handed_over: AtomicBool,
}

impl Handover {
    pub fn new(sockets: Vec<(String, OwnedFd)>) -> Handover {
        let no = || AtomicBool::new(false);
        Handover { sockets: Mutex::new(sockets), drain_asked: no(), handed_over: no() }
    }

    fn sockets(&self) -> MutexGuard<'_, Vec<(String, OwnedFd)>> {
        // A panic elsewhere cannot leave a Vec of descriptors inconsistent.
        self.sockets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes the duplicates (a worker starts draining).
    pub fn close(&self) {
        self.sockets().clear();
    }

    /// Asks every loop to drain (they check after each wake-up).
    pub fn ask_drain(&self) {
        self.drain_asked.store(true, Ordering::SeqCst);
    }

    pub fn drain_asked(&self) -> bool {
        self.drain_asked.load(Ordering::Relaxed)
    }

    /// A successor serves (and owns the pid file); then this process drains.
    pub fn hand_over(&self) {
        self.handed_over.store(true, Ordering::SeqCst);
        self.ask_drain();
    }

    pub fn handed_over(&self) -> bool {
        self.handed_over.load(Ordering::SeqCst)
    }
}

/// How to start this binary again, captured at startup.
#[derive(Debug, Clone)]
pub struct Binary {
    /// The path it was started by, so a new binary installed there (or a
    /// symlink there switched to a new release) is the one started.
    pub path: PathBuf,
    pub args: Vec<OsString>,
}

impl Binary {
    /// `argv[0]` when it is a path (made absolute: what systemd's
    /// `ExecStart=` and a shell with a path give), else `/proc/self/exe`
    /// (found through `PATH`; that name resolves symlinks).
    pub fn current() -> io::Result<Binary> {
        let args: Vec<OsString> = std::env::args_os().collect();
        let argv0 = args.first().map(PathBuf::from).filter(|p| p.as_os_str().as_bytes().contains(&b'/'));
        let path = match argv0 {
            Some(p) if p.is_absolute() => p,
            Some(p) => std::env::current_dir()?.join(p),
            None => std::env::current_exe()?,
        };
        Ok(Binary { path, args })
    }
}

/// Starts `binary` with `handover`'s sockets and waits up to `timeout` for
/// it to report that it serves. Ok(pid) then; otherwise the reason, the
/// child stopped and reaped.
pub fn start_successor(binary: &Binary, handover: &Handover, timeout: Duration) -> Result<u32, String> {
    let (read, write) = pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut child = {
        // Held while forking: a worker that starts draining now waits
        // rather than close (and let the kernel reuse) a number being passed.
        let sockets = handover.sockets();
        if sockets.is_empty() {
            return Err("the listening sockets are closed already (draining)".into());
        }
        let mut fds: Vec<RawFd> = sockets.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
        let names: Vec<&str> = sockets.iter().map(|(n, _)| n.as_str()).collect();
        fds.push(write.as_raw_fd());
        let exec = Exec::new(binary, &names, fds).map_err(|e| format!("{}: {e}", binary.path.display()))?;
        spawn(binary, exec).map_err(|e| format!("cannot start {}: {e}", binary.path.display()))?
    };
    drop(write); // ours; the child has its own: EOF once it exits
    let pid = child.id();
    match wait_ready(&read, timeout) {
        Ok(true) => Ok(pid),
        Ok(false) => {
            let status = reap(&mut child, false);
            Err(format!("the new process (pid {pid}) exited before it was ready: {status}"))
        }
        Err(why) => {
            let status = reap(&mut child, true);
            Err(format!("the new process (pid {pid}) {why}; stopped it: {status}"))
        }
    }
}

/// In a new process: the descriptor to report readiness on, if started by
/// [`start_successor`]. Removes the variable; call before threads exist.
pub fn ready_fd() -> Option<OwnedFd> {
    let fd = std::env::var(READY_FD_VAR).ok()?.parse::<RawFd>().ok();
    // SAFETY: called before any other thread exists (see above).
    unsafe { std::env::remove_var(READY_FD_VAR) };
    let fd = fd.filter(|&fd| fd >= LISTEN_FDS_START)?;
    // SAFETY: the parent placed the pipe's write end at this number for us
    // and nothing else in this process has claimed it (it is not a passed
    // socket: those are below it). Owned from here, closed once used.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    set_cloexec(fd.as_raw_fd());
    Some(fd)
}

/// Tells the old process this one serves: it then drains.
pub fn report_ready(fd: OwnedFd) -> io::Result<()> {
    let mut file = std::fs::File::from(fd);
    io::Write::write_all(&mut file, &[READY])
}

/// Waits for the ready byte: Ok(true) ready, Ok(false) EOF (the child is
/// gone), Err on the timeout.
fn wait_ready(read: &OwnedFd, timeout: Duration) -> Result<bool, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("did not report ready within {timeout:?} (--upgrade-timeout)"));
        }
        let mut pfd = libc::pollfd { fd: read.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("could not be waited for: poll: {e}"));
        }
        if n == 0 {
            continue;
        }
        let mut byte = [0u8; 1];
        // SAFETY: reads at most one byte into a valid one-byte buffer.
        let r = unsafe { libc::read(read.as_raw_fd(), byte.as_mut_ptr().cast(), 1) };
        match r {
            1 => return Ok(byte[0] == READY),
            0 => return Ok(false),
            _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            _ => return Err(format!("could not be read from: {}", io::Error::last_os_error())),
        }
    }
}

/// Stops (if `stop`) and reaps a child that will not take over; its exit
/// as the log should say it.
fn reap(child: &mut Child, stop: bool) -> String {
    if stop {
        // SIGTERM first: if it did start serving, it drains what it took.
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    }
    let deadline = Instant::now() + REAP_WITHIN;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.to_string(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                return child.wait().map_or_else(|e| format!("wait: {e}"), |s| format!("killed ({s})"));
            }
            Err(e) => return format!("wait: {e}"),
        }
    }
}

/// Everything `execve` needs, built before the fork: after it, in a
/// process that had threads, only async-signal-safe calls are allowed (no
/// allocation), so the child only moves descriptors, writes its pid into
/// a buffer reserved for it, and execs.
struct Exec {
    path: CString,
    /// Kept alive for `argv_ptrs` and `env_ptrs`.
    _argv: Vec<CString>,
    _env: Vec<CString>,
    /// `LISTEN_PID=` followed by room for the digits, NUL-padded.
    listen_pid: Vec<u8>,
    /// The descriptors to place at 3, 4, ... in this order.
    fds: Vec<RawFd>,
    /// Scratch for the moves (no allocation after the fork).
    scratch: Vec<RawFd>,
    /// NULL-terminated pointer arrays into the strings above (whose heap
    /// buffers do not move when this struct does).
    argv_ptrs: Vec<*const libc::c_char>,
    env_ptrs: Vec<*const libc::c_char>,
}

// SAFETY: the raw pointers point into buffers this struct owns; they are
// only dereferenced by execve in the forked child, where no other thread exists.
unsafe impl Send for Exec {}
// SAFETY: as above; nothing reads them through a shared reference.
unsafe impl Sync for Exec {}

/// Room for any pid's digits (pid_max is at most 2^22 on Linux).
const PID_DIGITS: usize = 20;

impl Exec {
    /// `names` name the first `names.len()` descriptors of `fds` (the
    /// sockets); the last is the ready pipe.
    fn new(binary: &Binary, names: &[&str], fds: Vec<RawFd>) -> Result<Exec, String> {
        let cstr = |b: &[u8]| CString::new(b).map_err(|_| "a NUL byte in an argument or variable".to_string());
        let path = cstr(binary.path.as_os_str().as_bytes())?;
        let argv = binary.args.iter().map(|a| cstr(a.as_bytes())).collect::<Result<Vec<_>, _>>()?;
        let ours = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", READY_FD_VAR];
        let mut env = Vec::new();
        for (k, v) in std::env::vars_os() {
            if !ours.iter().any(|o| k.as_bytes() == o.as_bytes()) {
                env.push(cstr(&[k.as_bytes(), b"=", v.as_bytes()].concat())?);
            }
        }
        let sockets = names.len();
        env.push(cstr(format!("LISTEN_FDS={sockets}").as_bytes())?);
        env.push(cstr(format!("LISTEN_FDNAMES={}", names.join(":")).as_bytes())?);
        env.push(cstr(format!("{READY_FD_VAR}={}", LISTEN_FDS_START + sockets as RawFd).as_bytes())?);
        let mut listen_pid = b"LISTEN_PID=".to_vec();
        listen_pid.resize(listen_pid.len() + PID_DIGITS + 1, 0);
        let scratch = vec![-1; fds.len()];
        let argv_ptrs = argv.iter().map(|a| a.as_ptr()).chain([std::ptr::null()]).collect();
        let env_ptrs = env.iter().map(|e| e.as_ptr()).chain([listen_pid.as_ptr().cast(), std::ptr::null()]).collect();
        Ok(Exec { path, _argv: argv, _env: env, listen_pid, fds, scratch, argv_ptrs, env_ptrs })
    }

    /// In the forked child: descriptors to 3.., our pid into LISTEN_PID,
    /// exec. Returns only on failure.
    ///
    /// # Safety
    /// Only in a child between fork and exec (it replaces descriptors 3..).
    unsafe fn exec(&mut self) -> io::Error {
        let n = self.fds.len() as RawFd;
        // First above every target, so no move overwrites a source still
        // to be moved (a passed socket may be 3 already).
        for (i, &fd) in self.fds.iter().enumerate() {
            // SAFETY: fcntl on descriptors this process holds.
            self.scratch[i] = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, LISTEN_FDS_START + n) };
            if self.scratch[i] < 0 {
                return io::Error::last_os_error();
            }
        }
        for (i, &tmp) in self.scratch.iter().enumerate() {
            // dup2 leaves the new descriptor without close-on-exec: inherited.
            // SAFETY: as above.
            if unsafe { libc::dup2(tmp, LISTEN_FDS_START + i as RawFd) } < 0 {
                return io::Error::last_os_error();
            }
        }
        // SAFETY: getpid is async-signal-safe.
        let pid = unsafe { libc::getpid() } as u64;
        // In place: env_ptrs points at this buffer, which does not move.
        write_digits(&mut self.listen_pid[b"LISTEN_PID=".len()..], pid);
        // SAFETY: path, argv and env are NUL-terminated strings and the
        // pointer arrays NULL-terminated, all alive (owned by self).
        unsafe { libc::execve(self.path.as_ptr(), self.argv_ptrs.as_ptr(), self.env_ptrs.as_ptr()) };
        io::Error::last_os_error()
    }
}

/// Writes `n` in decimal at the start of `buf` (NUL after), no allocation.
fn write_digits(buf: &mut [u8], mut n: u64) {
    let mut tmp = [0u8; PID_DIGITS];
    let mut len = 0;
    loop {
        tmp[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 || len == PID_DIGITS {
            break;
        }
    }
    for i in 0..len {
        buf[i] = tmp[len - 1 - i];
    }
    buf[len] = 0;
}

/// Forks and execs through `exec`; std reports an exec failure (our
/// pre_exec hook returning its error) to us as the spawn's error.
fn spawn(binary: &Binary, mut exec: Exec) -> io::Result<Child> {
    let mut cmd = Command::new(&binary.path);
    // SAFETY: the hook runs in the child between fork and exec and only
    // makes async-signal-safe calls (fcntl, dup2, getpid, execve) on
    // memory prepared before the fork.
    unsafe {
        cmd.pre_exec(move || Err(exec.exec()));
    }
    cmd.spawn()
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into a valid two-int array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both were just created for us and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn set_cloexec(fd: RawFd) {
    // SAFETY: F_SETFD on a descriptor this process owns.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_is_written_in_place_as_decimal_digits_then_nul() {
        let mut buf = [0xffu8; PID_DIGITS + 1];
        write_digits(&mut buf, 4_194_304);
        assert_eq!(&buf[..8], b"4194304\0");
        write_digits(&mut buf, 0);
        assert_eq!(&buf[..2], b"0\0");
    }

    #[test]
    fn the_successor_gets_our_environment_with_its_own_listen_variables() {
        let binary = Binary { path: "/bin/true".into(), args: vec!["loophttp".into(), "--port".into(), "0".into()] };
        let exec = Exec::new(&binary, &["loophttp", "loophttp-metrics"], vec![7, 9, 11]).unwrap();
        let env: Vec<String> = exec._env.iter().map(|e| e.to_string_lossy().into_owned()).collect();
        assert!(env.contains(&"LISTEN_FDS=2".to_string()), "{env:?}");
        assert!(env.contains(&"LISTEN_FDNAMES=loophttp:loophttp-metrics".to_string()));
        assert!(env.contains(&format!("{READY_FD_VAR}=5")), "the pipe follows the sockets: 3, 4, then 5");
        assert_eq!(env.iter().filter(|e| e.starts_with("LISTEN_FDS=")).count(), 1, "none inherited");
        assert!(exec.listen_pid.starts_with(b"LISTEN_PID="));
        // The pointer arrays end with NULL; LISTEN_PID is the last variable.
        assert_eq!(exec.argv_ptrs.len(), 4);
        assert!(exec.argv_ptrs[3].is_null());
        assert_eq!(exec.env_ptrs[exec.env_ptrs.len() - 2], exec.listen_pid.as_ptr().cast());
        assert!(exec.env_ptrs.last().unwrap().is_null());
    }
}
