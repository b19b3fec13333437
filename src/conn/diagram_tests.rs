//! Every arrow of the state diagram in the module doc, walked through
//! `transition` by driving a connection over an in-memory stream: one
//! scenario per arrow (or short path), each checking the exact
//! (from, edge, to) trail and the close reason. The table of arrows below is
//! the diagram; the last test checks that the scenarios cover all of it and
//! never take an arrow the diagram does not have.

use std::collections::BTreeSet;

use super::*;
use crate::blocking::Blocking;
use crate::config::Config;
use crate::files::FileStore;
use crate::lifecycle::Drain;
use crate::mem_stream::{self, MemStream, ReadStep};
use crate::routes::Routes;
use crate::setup::Settings;

type Arrow = (&'static str, Edge, &'static str);

use Edge::*;

/// The diagram, arrow by arrow.
const DIAGRAM: &[Arrow] = &[
    ("Head", Answered, "Head"),
    ("Head", SendFirst, "Drain(NextRequest)"),
    ("Head", SendFirst, "Drain(Close)"),
    ("Head", SendFirst, "Drain(Linger)"),
    ("Head", BodyWanted, "Body"),
    ("Body", BodyDone, "Head"),
    ("Body", BodyDone, "Drain(NextRequest)"),
    ("Body", BodyDone, "Drain(Close)"),
    ("Body", BodyDone, "Drain(Linger)"),
    ("Body", BodyDone, "Commit"),
    ("Commit", Committed, "Head"),
    ("Commit", Committed, "Drain(Close)"),
    ("Commit", Committed, "Drain(Linger)"),
    ("Head", RequestError, "Drain(Linger)"),
    ("Body", RequestError, "Drain(Linger)"),
    ("Drain(NextRequest)", Drained, "Head"),
    ("Drain(Close)", Drained, "Closed"),
    ("Drain(Linger)", Drained, "Linger"),
    ("Head", PeerEof, "Closed"),
    ("Head", PeerEof, "Drain(Close)"),
    ("Body", PeerEof, "Closed"),
    ("Body", PeerEof, "Drain(Close)"),
    ("Linger", PeerEof, "Closed"),
    ("Head", Deadline, "Drain(Linger)"),
    ("Body", Deadline, "Drain(Linger)"),
    ("Head", Deadline, "Closed"),
    ("Body", Deadline, "Closed"),
    ("Drain(NextRequest)", Deadline, "Closed"),
    ("Drain(Close)", Deadline, "Closed"),
    ("Drain(Linger)", Deadline, "Closed"),
    ("Linger", Deadline, "Closed"),
    ("Head", IoError, "Closed"),
    ("Body", IoError, "Closed"),
    ("Drain(NextRequest)", IoError, "Closed"),
    ("Drain(Close)", IoError, "Closed"),
    ("Drain(Linger)", IoError, "Closed"),
    ("Linger", IoError, "Closed"),
];

/// A connection, its stream and its loop context (serving `dir`, if given).
struct Rig {
    c: Conn,
    io: MemStream,
    cx: Context,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big.bin"), vec![7u8; 100_000]).unwrap();
        let store = FileStore::new(dir.path()).unwrap();
        let writes = crate::routes::Writes { upload: true, delete: true };
        let cx = Context::new(Routes::new(Some(store)).with_writes(writes), Settings::from_config(&Config::defaults()));
        let mem_stream::Rig { conn: c, io, cx } = mem_stream::Rig::new(cx);
        Rig { c, io, cx, _dir: dir }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.io.push(bytes);
        self.c.on_ready(&mut self.io, true, false, &mut self.cx);
    }

    fn eof(&mut self) {
        self.io.push_eof();
        self.c.on_read_closed();
        self.c.on_ready(&mut self.io, true, false, &mut self.cx);
    }

    /// The peer resets the connection: the next read fails.
    fn reset(&mut self) {
        self.io.reads.push_back(ReadStep::Reset);
        self.c.on_ready(&mut self.io, true, false, &mut self.cx);
    }

    /// The peer is gone while output waits: the next write fails.
    fn broken_pipe(&mut self) {
        self.io.write_blocked = false;
        self.io.shut_write = true;
        self.c.on_ready(&mut self.io, false, true, &mut self.cx);
    }

    /// Lets the connection's deadline pass.
    fn expire(&mut self) {
        self.cx.now = self.c.deadline(&self.cx).expect("a deadline");
        self.c.on_timeout(&mut self.io, &mut self.cx);
    }

    /// Runs the jobs the connection handed to the pool, as a pool thread
    /// would, and gives it their outcomes, as the loop would.
    fn run_jobs(&mut self) {
        for (id, job) in self.cx.blocking.take() {
            assert_eq!(id, self.c.id());
            self.c.on_done(job.run(), &mut self.io, &mut self.cx);
        }
    }

    /// Writable events until all output is out.
    fn drain_output(&mut self) {
        for _ in 0..1000 {
            if self.c.out.is_empty() {
                return;
            }
            self.c.on_ready(&mut self.io, false, true, &mut self.cx);
        }
        panic!("output never drained");
    }
}

const GET: &[u8] = b"GET /echo/a HTTP/1.1\r\nHost: t\r\n\r\n";
const GET_CLOSE: &[u8] = b"GET /echo/a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
const POST_HEAD: &[u8] = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n";

/// One scenario: its name, what it does, the trail it must leave, and how
/// the connection ends up (None: still open).
type Scenario = (&'static str, fn(&mut Rig), &'static [Arrow], Option<CloseReason>);

const SCENARIOS: &[Scenario] = &[
    ("a keep-alive request", |r| r.send(GET), &[("Head", Answered, "Head")], None),
    (
        "Connection: close",
        |r| r.send(GET_CLOSE),
        &[("Head", SendFirst, "Drain(Close)"), ("Drain(Close)", Drained, "Closed")],
        Some(CloseReason::NoKeepAlive),
    ),
    (
        "a large file, sent before the next request is read",
        |r| {
            r.io.max_write = 64 * 1024;
            r.send(b"GET /files/big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
            r.drain_output();
        },
        &[("Head", SendFirst, "Drain(NextRequest)"), ("Drain(NextRequest)", Drained, "Head")],
        None,
    ),
    (
        "an error answered before its body, which stays unread",
        |r| {
            r.send(b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n");
            r.eof();
        },
        &[("Head", SendFirst, "Drain(Linger)"), ("Drain(Linger)", Drained, "Linger"), ("Linger", PeerEof, "Closed")],
        Some(CloseReason::NoKeepAlive),
    ),
    (
        "a body read and dropped",
        |r| r.send(&[POST_HEAD, b"hello"].concat()),
        &[("Head", BodyWanted, "Body"), ("Body", BodyDone, "Head")],
        None,
    ),
    (
        "a body read and dropped before a large file's answer",
        |r| {
            r.io.max_write = 64 * 1024;
            r.send(b"GET /files/big.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
            r.drain_output();
        },
        &[
            ("Head", BodyWanted, "Body"),
            ("Body", BodyDone, "Drain(NextRequest)"),
            ("Drain(NextRequest)", Drained, "Head"),
        ],
        None,
    ),
    (
        "a body read and dropped, then close",
        |r| r.send(b"POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"),
        &[("Head", BodyWanted, "Body"), ("Body", BodyDone, "Drain(Close)"), ("Drain(Close)", Drained, "Closed")],
        Some(CloseReason::NoKeepAlive),
    ),
    (
        "a body finished while the server drains",
        |r| {
            r.send(&[POST_HEAD, b"he"].concat());
            r.cx.drain = Some(Drain { since: r.cx.now, grace: std::time::Duration::from_secs(2) });
            r.send(b"llo");
        },
        &[("Head", BodyWanted, "Body"), ("Body", BodyDone, "Drain(Linger)"), ("Drain(Linger)", Drained, "Linger")],
        None,
    ),
    (
        "an upload that waits for its commit in the pool, then the next request",
        |r| {
            r.cx.blocking = Blocking::Offload(Vec::new());
            r.send(&[b"PUT /files/up.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc", GET].concat());
            assert!(r.io.written.is_empty(), "nothing answered before the commit");
            assert_eq!(r.c.want(), Want { read: false, write: false }, "nothing read meanwhile");
            assert_eq!(r.c.deadline(&r.cx), None, "the disk, not the client, is waited for");
            r.run_jobs();
        },
        &[
            ("Head", BodyWanted, "Body"),
            ("Body", BodyDone, "Commit"),
            ("Commit", Committed, "Head"),
            ("Head", Answered, "Head"),
        ],
        None,
    ),
    (
        "an upload, then close",
        |r| r.send(b"PUT /files/up.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc"),
        &[
            ("Head", BodyWanted, "Body"),
            ("Body", BodyDone, "Commit"),
            ("Commit", Committed, "Drain(Close)"),
            ("Drain(Close)", Drained, "Closed"),
        ],
        Some(CloseReason::NoKeepAlive),
    ),
    (
        "an upload finished while the server drains",
        |r| {
            r.send(b"PUT /files/up.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nabc");
            r.cx.drain = Some(Drain { since: r.cx.now, grace: std::time::Duration::from_secs(2) });
            r.send(b"def");
        },
        &[
            ("Head", BodyWanted, "Body"),
            ("Body", BodyDone, "Commit"),
            ("Commit", Committed, "Drain(Linger)"),
            ("Drain(Linger)", Drained, "Linger"),
        ],
        None,
    ),
    (
        "a bad head, then the client's EOF",
        |r| {
            r.send(b"NOT HTTP\r\n\r\n");
            r.eof();
        },
        &[("Head", RequestError, "Drain(Linger)"), ("Drain(Linger)", Drained, "Linger"), ("Linger", PeerEof, "Closed")],
        Some(CloseReason::RequestError),
    ),
    (
        "a bad chunked body",
        |r| r.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        &[("Head", BodyWanted, "Body"), ("Body", RequestError, "Drain(Linger)"), ("Drain(Linger)", Drained, "Linger")],
        None,
    ),
    ("EOF while idle", |r| r.eof(), &[("Head", PeerEof, "Closed")], Some(CloseReason::ClientClosed)),
    (
        "EOF with an answer still queued",
        |r| {
            r.io.write_blocked = true;
            r.send(GET);
            r.eof();
        },
        &[("Head", Answered, "Head"), ("Head", PeerEof, "Drain(Close)")],
        None,
    ),
    (
        "EOF in the middle of a body",
        |r| {
            r.send(&[POST_HEAD, b"he"].concat());
            r.eof();
        },
        &[("Head", BodyWanted, "Body"), ("Body", PeerEof, "Closed")],
        Some(CloseReason::ClientClosed),
    ),
    (
        "EOF in the middle of a body, an earlier answer still queued",
        |r| {
            r.io.write_blocked = true;
            r.send(&[GET, POST_HEAD, b"he"].concat());
            r.eof();
        },
        &[("Head", Answered, "Head"), ("Head", BodyWanted, "Body"), ("Body", PeerEof, "Drain(Close)")],
        None,
    ),
    (
        "a head too slow: 408",
        |r| {
            r.send(b"GET / HTTP/1.1\r\nHo");
            r.expire();
        },
        &[("Head", Deadline, "Drain(Linger)"), ("Drain(Linger)", Drained, "Linger")],
        None,
    ),
    (
        "idle past the keep-alive timeout",
        |r| {
            r.send(GET);
            r.expire();
        },
        &[("Head", Answered, "Head"), ("Head", Deadline, "Closed")],
        Some(CloseReason::KeepAliveTimeout),
    ),
    (
        "silent since accept, past the header timeout",
        |r| r.expire(),
        &[("Head", Deadline, "Closed")],
        Some(CloseReason::HeaderTimeout),
    ),
    (
        "a body that stalls",
        |r| {
            r.send(&[POST_HEAD, b"he"].concat());
            r.expire();
        },
        &[("Head", BodyWanted, "Body"), ("Body", Deadline, "Drain(Linger)"), ("Drain(Linger)", Drained, "Linger")],
        None,
    ),
    (
        "a body that stalls while an earlier answer is still queued",
        |r| {
            r.io.write_blocked = true;
            r.send(&[GET, POST_HEAD, b"he"].concat());
            r.expire();
        },
        &[("Head", Answered, "Head"), ("Head", BodyWanted, "Body"), ("Body", Deadline, "Closed")],
        Some(CloseReason::WriteTimeout),
    ),
    (
        "a client that stops reading the last answer",
        |r| {
            r.io.write_blocked = true;
            r.send(GET_CLOSE);
            r.expire();
        },
        &[("Head", SendFirst, "Drain(Close)"), ("Drain(Close)", Deadline, "Closed")],
        Some(CloseReason::WriteTimeout),
    ),
    (
        "a client that stops reading a large file",
        |r| {
            r.io.max_write = 64 * 1024;
            r.send(b"GET /files/big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
            r.io.write_blocked = true;
            r.c.on_ready(&mut r.io, false, true, &mut r.cx);
            r.expire();
        },
        &[("Head", SendFirst, "Drain(NextRequest)"), ("Drain(NextRequest)", Deadline, "Closed")],
        Some(CloseReason::WriteTimeout),
    ),
    (
        "a client that does not read its error",
        |r| {
            r.io.write_blocked = true;
            r.send(b"NOT HTTP\r\n\r\n");
            r.expire();
        },
        &[("Head", RequestError, "Drain(Linger)"), ("Drain(Linger)", Deadline, "Closed")],
        Some(CloseReason::WriteTimeout),
    ),
    (
        "a linger that runs out",
        |r| {
            r.send(b"NOT HTTP\r\n\r\n");
            r.expire();
        },
        &[
            ("Head", RequestError, "Drain(Linger)"),
            ("Drain(Linger)", Drained, "Linger"),
            ("Linger", Deadline, "Closed"),
        ],
        Some(CloseReason::RequestError),
    ),
    (
        "a reset while answering",
        |r| {
            r.io.shut_write = true; // writes now fail with a broken pipe
            r.send(GET);
        },
        &[("Head", Answered, "Head"), ("Head", IoError, "Closed")],
        Some(CloseReason::Reset),
    ),
    (
        "a reset while a body arrives",
        |r| {
            r.send(POST_HEAD);
            r.reset();
        },
        &[("Head", BodyWanted, "Body"), ("Body", IoError, "Closed")],
        Some(CloseReason::Reset),
    ),
    (
        "a reset while a large file goes out",
        |r| {
            r.io.write_blocked = true;
            r.send(b"GET /files/big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
            r.broken_pipe();
        },
        &[("Head", SendFirst, "Drain(NextRequest)"), ("Drain(NextRequest)", IoError, "Closed")],
        Some(CloseReason::Reset),
    ),
    (
        "a reset while the last answer goes out",
        |r| {
            r.io.write_blocked = true;
            r.send(GET_CLOSE);
            r.broken_pipe();
        },
        &[("Head", SendFirst, "Drain(Close)"), ("Drain(Close)", IoError, "Closed")],
        Some(CloseReason::Reset),
    ),
    (
        "a reset while an error goes out",
        |r| {
            r.io.write_blocked = true;
            r.send(b"NOT HTTP\r\n\r\n");
            r.broken_pipe();
        },
        &[("Head", RequestError, "Drain(Linger)"), ("Drain(Linger)", IoError, "Closed")],
        Some(CloseReason::Reset),
    ),
    (
        "a reset while lingering",
        |r| {
            r.send(b"NOT HTTP\r\n\r\n");
            r.reset();
        },
        &[("Head", RequestError, "Drain(Linger)"), ("Drain(Linger)", Drained, "Linger"), ("Linger", IoError, "Closed")],
        Some(CloseReason::Reset),
    ),
];

#[test]
fn each_scenario_takes_exactly_its_arrows() {
    let mut wrong = Vec::new();
    for &(name, run, want, closed) in SCENARIOS {
        let mut rig = Rig::new();
        run(&mut rig);
        if rig.c.trail != want || rig.c.close_reason() != closed {
            wrong.push(format!(
                "{name}:\n  took {:?}, {:?}\n  want {want:?}, {closed:?}",
                rig.c.trail,
                rig.c.close_reason()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_scenarios_walk_every_arrow_of_the_diagram_and_no_other() {
    let diagram: BTreeSet<String> = DIAGRAM.iter().map(|a| format!("{a:?}")).collect();
    assert_eq!(diagram.len(), DIAGRAM.len(), "an arrow listed twice");
    let walked: BTreeSet<String> = SCENARIOS.iter().flat_map(|s| s.2).map(|a| format!("{a:?}")).collect();
    let missing: Vec<_> = diagram.difference(&walked).collect();
    let extra: Vec<_> = walked.difference(&diagram).collect();
    assert!(missing.is_empty() && extra.is_empty(), "not walked: {missing:?}; not in the diagram: {extra:?}");
    let edges: BTreeSet<_> = DIAGRAM.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(edges, Edge::ALL.iter().map(|e| e.as_str()).collect(), "every Edge is an arrow of the diagram");
}

/// The state diagram as drawn in this module's doc (`mod.rs`), without the
/// `//!` prefix.
fn picture() -> Vec<String> {
    let doc: Vec<&str> = include_str!("mod.rs").lines().map_while(|l| l.strip_prefix("//!")).collect();
    let start = doc.iter().position(|l| l.trim() == "```text").expect("the diagram's opening fence") + 1;
    let len = doc[start..].iter().position(|l| l.trim() == "```").expect("the diagram's closing fence");
    doc[start..start + len].iter().map(|l| l.to_string()).collect()
}

/// The states a rule line names: `any state`, `any Drain`, or the names.
fn states(text: &str) -> Vec<&'static str> {
    const ALL: [&str; 6] = ["Head", "Body", "Drain(NextRequest)", "Drain(Close)", "Drain(Linger)", "Linger"];
    let mut found = Vec::new();
    for part in text.split(',').map(str::trim) {
        match part {
            "any state" => found.extend(ALL),
            "any Drain" => found.extend(ALL.iter().filter(|s| s.starts_with("Drain"))),
            p => found.extend(ALL.iter().chain(&["Closed"]).filter(|s| p.trim_start_matches("or ").starts_with(*s))),
        }
    }
    found
}

/// The arrows the picture's rule lines state (`label: sources ──► targets`,
/// each `otherwise sources ──► targets` continuing one), as
/// (from, edge label, to).
fn rule_arrows(picture: &[String]) -> Vec<(&'static str, String, &'static str)> {
    let mut arrows = Vec::new();
    let mut label = String::new();
    for line in picture {
        let line = line.trim();
        let rest = match line.split_once(':') {
            Some((name, rest)) if name.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !name.is_empty() => {
                label = name.to_string();
                rest
            }
            _ if line.starts_with("answer is out yet; otherwise") => &line["answer is out yet; otherwise".len()..],
            _ => continue,
        };
        let Some((from, to)) = rest.split_once("──►") else { continue };
        // Only what precedes a word of prose: "Drain(Linger) with a 408" is Drain(Linger).
        let targets = states(to.split(" with ").next().unwrap_or("").split(" if ").next().unwrap_or(""));
        for f in states(from) {
            for &t in &targets {
                arrows.push((f, label.clone(), t));
            }
        }
    }
    arrows
}

/// Hyphenated words the picture's notes use as words, not as labels.
const PROSE: &[&str] = &["keep-alive"];

#[test]
fn the_pictures_labels_are_the_edges() {
    let picture = picture();
    let mut labels = BTreeSet::new();
    for line in &picture {
        // Remarks in lower-case parentheses, "(no keep-alive)", are prose.
        let mut drawn = String::new();
        let mut depth = 0;
        for (i, c) in line.char_indices() {
            match c {
                '(' if line[i + 1..].starts_with(|n: char| n.is_ascii_lowercase()) || depth > 0 => depth += 1,
                ')' if depth > 0 => depth -= 1,
                _ if depth == 0 => drawn.push(c),
                _ => {}
            }
        }
        for word in drawn.split(|c: char| !(c.is_ascii_lowercase() || c == '-')) {
            // Hyphenated words are edge labels in the picture; so are the
            // single words the edges use.
            let hyphenated = word.contains('-') && !word.starts_with('-') && !word.ends_with('-');
            if hyphenated && !PROSE.contains(&word) || Edge::ALL.iter().any(|e| e.as_str() == word) {
                labels.insert(word.to_string());
            }
        }
    }
    let edges: BTreeSet<String> = Edge::ALL.iter().map(|e| e.as_str().to_string()).collect();
    assert_eq!(labels, edges, "the labels drawn in the picture and the Edge variants");
}

#[test]
fn the_pictures_rules_are_arrows_of_the_table() {
    let picture = picture();
    let arrows = rule_arrows(&picture);
    assert!(arrows.len() >= 15, "the rule lines were not read: {arrows:?}");
    let table: BTreeSet<(&str, &str, &str)> = DIAGRAM.iter().map(|&(f, e, t)| (f, e.as_str(), t)).collect();
    let missing: Vec<_> = arrows.iter().filter(|(f, e, t)| !table.contains(&(*f, e.as_str(), *t))).collect();
    assert!(missing.is_empty(), "drawn in the picture, missing from the table: {missing:?}");
    for state in ["Head", "Body", "Drain(NextRequest)", "Drain(Close)", "Drain(Linger)", "Linger"] {
        assert!(arrows.contains(&(state, "io-error".to_string(), "Closed")), "io-error from {state}");
    }
}
