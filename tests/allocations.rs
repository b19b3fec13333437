//! The keep-alive small-response path allocates nothing per request beyond
//! what a response body needs: a counting global allocator watches a
//! connection answer requests over an in-memory stream, after a warm-up
//! that fills the loop's buffer pool.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use loophttp::mem_stream::Rig;

/// Counts allocations made by the current thread (other test threads and
/// the harness do not disturb the count).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Allocations made while one connection answers `rounds` requests for
/// `path`, one request per read as a keep-alive client sends them.
fn allocations_per_request(path: &str) -> f64 {
    allocations_per_request_with(path, Rig::defaults(), 10)
}

fn allocations_per_request_with(path: &str, mut rig: Rig, warm_up: usize) -> f64 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: wrk\r\n\r\n").into_bytes();
    let answer = |rig: &mut Rig| {
        rig.send(&request);
        let written = &rig.io.written;
        assert!(written.starts_with(b"HTTP/1.1 200 OK\r\n"), "{:?}", String::from_utf8_lossy(written));
        rig.io.written.clear();
    };
    // Warm-up: the pool gets its buffers, the MemStream its capacity.
    for _ in 0..warm_up {
        answer(&mut rig);
    }
    let rounds = 1000;
    let before = allocations();
    for _ in 0..rounds {
        answer(&mut rig);
    }
    // MemStream::push copies each request into a Vec: that is the test's
    // own allocation, one per round, not the server's.
    (allocations() - before - rounds) as f64 / rounds as f64
}

#[test]
fn echo_keep_alive_requests_allocate_nothing() {
    assert_eq!(allocations_per_request("/echo/abc"), 0.0);
}

#[test]
fn user_agent_keep_alive_requests_allocate_nothing() {
    assert_eq!(allocations_per_request("/user-agent"), 0.0);
}

#[test]
fn root_json_allocates_only_its_body() {
    assert_eq!(allocations_per_request("/"), 1.0);
}

/// The same with the access log (to a file) and the metrics on. Lines are
/// formatted into the loop's reused buffer; a full 64 KiB batch goes to the
/// writer thread, which sends the buffer back for reuse. A batch handed
/// over before an earlier buffer came back needs a new one: that is the
/// only allocation, about one per 500 lines, never one per request.
#[test]
fn with_access_log_and_metrics_a_request_allocates_nothing_but_the_odd_batch_buffer() {
    use loophttp::access_log::{self, AccessLog, Destination, Format};
    use loophttp::inflight::Observer;
    for format in [Format::Combined, Format::Json] {
        let dir = tempfile::tempdir().unwrap();
        let writer = access_log::start(&Destination::File(dir.path().join("a.log"))).unwrap().unwrap();
        let mut rig = Rig::defaults();
        rig.cx.observe = Observer::new(AccessLog::new(Some(&writer), format), Some(Default::default()));
        let per_request = allocations_per_request_with("/echo/abc", rig, 2000);
        assert!(per_request <= 0.005, "{format:?}: {per_request} allocations per request");
        writer.finish(std::time::Duration::from_secs(5));
    }
}
