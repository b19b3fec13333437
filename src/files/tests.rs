use super::*;

/// Log lines of the calling test's thread, captured by a process-wide
/// logger installed on first use.
fn logged_here() -> Vec<(log::Level, String)> {
    use std::sync::{Mutex, Once};
    use std::thread::{self, ThreadId};
    static LINES: Mutex<Vec<(ThreadId, log::Level, String)>> = Mutex::new(Vec::new());
    struct Capture;
    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, r: &log::Record<'_>) {
            let text = crate::logging::text_message(r);
            LINES.lock().unwrap().push((thread::current().id(), r.level(), text));
        }
        fn flush(&self) {}
    }
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&Capture).expect("no other logger in unit tests");
        log::set_max_level(log::LevelFilter::Info);
    });
    let me = thread::current().id();
    let mut lines = LINES.lock().unwrap();
    let (mine, others) = lines.drain(..).partition(|(id, ..)| *id == me);
    *lines = others;
    mine.into_iter().map(|(_, level, text)| (level, text)).collect()
}

#[test]
fn io_errors_map_to_statuses_and_refusals_are_logged() {
    use io::ErrorKind::*;
    use log::Level::Warn;
    let os = io::Error::from_raw_os_error;
    let cases = [
        (PermissionDenied.into(), 403, Some(Warn)),
        (os(libc::EACCES), 403, Some(Warn)),
        (os(libc::EPERM), 403, Some(Warn)),
        (os(libc::ELOOP), 404, None),
        (os(libc::EXDEV), 404, None),
        (os(libc::ENXIO), 404, None),
        (os(libc::ENOENT), 404, None),
        (os(libc::ENOTDIR), 404, None),
        (NotFound.into(), 404, None),
        (os(libc::EIO), 500, Some(Warn)),
        (io::Error::other("odd"), 500, Some(Warn)),
    ];
    logged_here();
    for (e, status, level) in cases {
        assert_eq!(fs_error(&e, Path::new("dir/some.file")).status(), status, "{e}");
        let logged = logged_here();
        match level {
            Some(level) => assert!(
                logged.iter().any(|(l, text)| *l == level && text.contains("dir/some.file")),
                "{e}: want a {level} line naming the file, got {logged:?}"
            ),
            None => assert!(logged.is_empty(), "{e}: {logged:?}"),
        }
    }
}

/// What `open_resolved` (the way without openat2) makes of `name`: the
/// contents it would serve, or the status.
fn resolved(store: &FileStore, name: &str) -> Result<Vec<u8>, u16> {
    let (mut file, meta) = store.open_resolved(OsStr::new(name)).map_err(HttpError::status)?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).unwrap();
    assert_eq!(meta.len(), data.len() as u64, "{name}: metadata of what was opened");
    Ok(data)
}

#[test]
fn open_resolved_serves_regular_files_inside_and_nothing_else() {
    use std::os::unix::fs::symlink;
    let root = tempfile::tempdir().unwrap();
    let (served, outside) = (root.path().join("served"), root.path().join("outside"));
    fs::create_dir(&served).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(served.join("plain.txt"), b"plain").unwrap();
    fs::write(outside.join("secret"), b"secret").unwrap();
    fs::create_dir(served.join("sub")).unwrap();
    let fifo = std::ffi::CString::new(served.join("pipe").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    symlink(served.join("plain.txt"), served.join("absolute")).unwrap();
    symlink("plain.txt", served.join("relative")).unwrap();
    symlink(outside.join("secret"), served.join("out-absolute")).unwrap();
    symlink("../outside/secret", served.join("out-relative")).unwrap();
    symlink("missing", served.join("dangling")).unwrap();
    let store = FileStore::new(&served).unwrap();
    let cases: &[(&str, Result<&[u8], u16>)] = &[
        ("plain.txt", Ok(b"plain")),
        ("absolute", Ok(b"plain")),
        ("relative", Ok(b"plain")),
        ("sub", Err(404)),
        ("pipe", Err(404)), // refused before it is opened: no blocking open
        ("out-absolute", Err(404)),
        ("out-relative", Err(404)),
        ("dangling", Err(404)),
        ("absent", Err(404)),
    ];
    for &(name, want) in cases {
        assert_eq!(resolved(&store, name), want.map(<[u8]>::to_vec), "{name}");
    }
}

#[test]
fn sanitize_accepts_plain_names() {
    for ok in [&b"a.txt"[..], b"x", b"..a", b"a..", b"with space", b"\xff\xfe", &[b'n'; 255]] {
        assert!(sanitize(ok).is_ok(), "{:?}", String::from_utf8_lossy(ok));
    }
}

#[test]
fn sanitize_refuses_every_escape_shape() {
    let long = [b'n'; 256];
    let bad: &[&[u8]] = &[
        b"",
        b".",
        b"..",
        b"../x",
        b"a/b",
        b"/etc/passwd",
        b"a\\b",
        b"..\\x",
        b"a\0b",
        &long,
        b".loophttp-upload-1-2",
    ];
    for name in bad {
        assert_eq!(sanitize(name), Err(BAD_NAME), "{:?}", String::from_utf8_lossy(name));
    }
}
