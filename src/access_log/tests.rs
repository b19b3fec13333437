use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::mpsc;

use super::*;

fn entry(target: &[u8]) -> Entry<'_> {
    Entry {
        peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
        method: b"GET",
        target,
        version: b"HTTP/1.1",
        status: 200,
        bytes_sent: 100,
        body_bytes_sent: 3,
        bytes_received: 40,
        duration: Duration::from_micros(5),
        user_agent: None,
        referer: None,
        conn_id: 1,
        request_no: 1,
    }
}

fn temp_log() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    (dir, path)
}

#[test]
fn destinations_parse() {
    assert_eq!("-".parse(), Ok(Destination::Stdout));
    assert_eq!("off".parse(), Ok(Destination::Off));
    assert_eq!("/var/log/x.log".parse(), Ok(Destination::File("/var/log/x.log".into())));
    assert!("".parse::<Destination>().is_err());
}

#[test]
fn off_formats_nothing_and_has_no_deadline() {
    let mut log = AccessLog::off();
    log.write_entry(&entry(b"/"), Instant::now());
    assert!(!log.enabled());
    assert_eq!(log.deadline(), None);
}

#[test]
fn lines_wait_for_the_interval_then_go_out_in_one_batch() {
    let (_dir, path) = temp_log();
    let writer = start(&Destination::File(path.clone())).unwrap().unwrap();
    let mut log = AccessLog::new(Some(&writer), Format::Combined);
    let t0 = Instant::now();
    for i in 0..10 {
        log.write_entry(&entry(format!("/echo/{i}").as_bytes()), t0);
    }
    assert_eq!(log.deadline(), Some(t0 + FLUSH_INTERVAL));
    log.tick(t0 + FLUSH_INTERVAL / 2);
    assert!(log.lines == 10, "not due yet: still buffered");
    log.tick(t0 + FLUSH_INTERVAL);
    assert_eq!((log.lines, log.deadline()), (0, None), "handed over");
    log.finish();
    writer.finish(Duration::from_secs(5));
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 10);
    assert!(text.lines().last().unwrap().contains("\"GET /echo/9 HTTP/1.1\" 200 3 \"-\" \"-\" 0.000005"));
}

#[test]
fn a_full_buffer_goes_out_before_its_time() {
    let (_dir, path) = temp_log();
    let writer = start(&Destination::File(path.clone())).unwrap().unwrap();
    let mut log = AccessLog::new(Some(&writer), Format::Json);
    let target = vec![b'x'; 1000];
    let mut n = 0;
    while log.lines > 0 || n == 0 {
        log.write_entry(&entry(&target), Instant::now());
        n += 1;
        assert!(n < 1000, "the batch never filled");
    }
    assert!(n >= BATCH_BYTES / 2000);
    log.finish();
    writer.finish(Duration::from_secs(5));
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), n);
    for l in text.lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap();
    }
}

#[test]
fn a_lines_time_is_its_pass_even_when_its_client_wrote_the_line_before() {
    let (_dir, path) = temp_log();
    let writer = start(&Destination::File(path.clone())).unwrap().unwrap();
    let mut log = AccessLog::new(Some(&writer), Format::Combined);
    // 2026-12-01T04:51:09Z, then a second later, both twice.
    let t0 = std::time::UNIX_EPOCH + Duration::from_secs(1_796_100_669);
    for at in [t0, t0 + Duration::from_millis(500), t0 + Duration::from_secs(1), t0 + Duration::from_millis(1900)] {
        log.set_time(at);
        log.write_entry(&entry(b"/same-client"), Instant::now());
    }
    log.finish();
    writer.finish(Duration::from_secs(5));
    let text = std::fs::read_to_string(&path).unwrap();
    let times: Vec<&str> = text.lines().map(|l| &l[l.find('[').unwrap()..=l.find(']').unwrap()]).collect();
    let (first, second) = ("[01/Dec/2026:04:51:09 +0000]", "[01/Dec/2026:04:51:10 +0000]");
    assert_eq!(times, [first, first, second, second]);
}

#[test]
fn reopen_loses_nothing_and_later_lines_go_to_the_new_file() {
    let (dir, path) = temp_log();
    let writer = start(&Destination::File(path.clone())).unwrap().unwrap();
    let control = writer.control();
    let mut log = AccessLog::new(Some(&writer), Format::Combined);
    log.write_entry(&entry(b"/before"), Instant::now());
    log.tick(Instant::now() + FLUSH_INTERVAL);
    // logrotate: rename, then signal.
    let rotated = dir.path().join("access.log.1");
    // The batch may still be in the channel: renaming does not change which
    // file the writer has open, so it lands in the rotated file either way.
    std::fs::rename(&path, &rotated).unwrap();
    log.write_entry(&entry(b"/buffered-during-rotation"), Instant::now());
    control.reopen();
    let reopened = (0..500).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        path.exists()
    });
    assert!(reopened, "the writer reopened the path");
    log.finish();
    writer.finish(Duration::from_secs(5));
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&path).unwrap();
    assert!(old.contains("/before") && !old.contains("/buffered"), "{old}");
    assert!(new.contains("/buffered-during-rotation"), "{new}");
    drop(control); // a control left over does not keep anything alive
}

/// A writer that blocks until told to go on: a pipe whose reader stalled.
struct Stalled {
    go: mpsc::Receiver<()>,
    written: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Write for Stalled {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.go.recv();
        self.written.fetch_add(buf.iter().filter(|&&b| b == b'\n').count() as u64, Ordering::SeqCst);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_stalled_output_costs_lines_not_the_loop() {
    let (go_tx, go) = mpsc::channel();
    let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writer = LogWriter::spawn(Sink::Custom(Box::new(Stalled { go, written: written.clone() }))).unwrap();
    let mut log = AccessLog::new(Some(&writer), Format::Combined);
    let target = vec![b'y'; 1000];
    let started = Instant::now();
    let batches = CHANNEL_BATCHES as u64 + 10;
    let mut sent = 0;
    while log.state().dropped_lines() == 0 || sent < batches * 70 {
        log.write_entry(&entry(&target), Instant::now());
        sent += 1;
        assert!(sent < 100_000, "never dropped");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "the loop side never waited");
    let dropped = log.state().dropped_lines();
    assert!(dropped > 0 && dropped < sent);
    // The reader wakes up: what was queued gets written, then shutdown.
    for _ in 0..(CHANNEL_BATCHES + 10) * 100 {
        let _ = go_tx.send(());
    }
    log.finish();
    writer.finish(Duration::from_secs(5));
    let total = written.load(Ordering::SeqCst) + log.state().dropped_lines();
    assert_eq!(total, sent, "every line was either written or counted as dropped");
}
