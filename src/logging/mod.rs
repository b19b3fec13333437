//! The server's own log (not the access log): `--log-format text` or `json`.
//!
//! Log calls put structured values in `log`'s key-value fields, not in the
//! message: `log::debug!(conn = id, peer:% = addr; "open")`. The `conn`
//! field is the connection's id.
//!
//! - `text` looks exactly like simple_logger's lines (which decides what
//!   is enabled): the id leads the message as `#ID`, the other fields
//!   follow as `key=value`:
//!   `2026-12-01T06:50:00.123Z DEBUG [loophttp::event_loop] #7 open peer=127.0.0.1:50512`.
//! - `json` is one object per line: `time` (RFC 3339, UTC, microseconds),
//!   `level`, `target`, `message`, then each field as its own member (the
//!   id as a number).
//!
//! Lines are formatted by the thread that logs and written to stderr by a
//! thread of their own ([`writer`]): a loop never waits for stderr, and a
//! line that finds the writer too far behind is dropped and counted.
//!
//! Values come from the server (ids, addresses, sizes, error texts, state
//! names); where one holds client bytes (a path, a file name) the caller
//! escapes it first (see [`escaped`]), and both formats escape again what
//! their syntax needs.

mod writer;

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::Mutex;
use std::time::SystemTime;

use log::kv::{self, Key, Value, VisitSource};
use log::{LevelFilter, Log, Metadata, Record};
use simple_logger::SimpleLogger;

use crate::access_log::LogClock;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// simple_logger's lines, fields as `key=value`.
    Text,
    /// One JSON object per line.
    Json,
}

/// The field that names the connection.
const CONN: &str = "conn";

/// Installs the logger and starts its writer thread. `threads`: name the
/// logging thread on every line (with several workers, which loop logged).
pub fn init(level: LevelFilter, format: LogFormat, threads: bool) -> Result<(), String> {
    let text = SimpleLogger::new()
        .with_level(level)
        .with_threads(threads)
        // mio's own trace records would drown ours.
        .with_module_level("mio", LevelFilter::Warn);
    let out = writer::Stderr::spawn(std::io::stderr()).map_err(|e| format!("start the log's writer thread: {e}"))?;
    log::set_max_level(text.max_level());
    let clock = Mutex::new(LogClock::default());
    log::set_boxed_logger(Box::new(Logger { text, format, threads, clock, out })).map_err(|e| e.to_string())
}

/// Now, as the text format's lines begin: `2026-12-01T06:50:00.123Z`.
fn now_rfc3339_millis() -> String {
    let mut clock = LogClock::default();
    clock.set(SystemTime::now());
    let mut out = Vec::with_capacity(24);
    write_time_millis(&clock, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The clock's time to the millisecond, as simple_logger prints it.
fn write_time_millis(clock: &LogClock, out: &mut Vec<u8>) {
    clock.write_rfc3339(out); // ...:00.123456Z
    out.truncate(out.len() - 4);
    out.push(b'Z');
}

struct Logger {
    /// Decides for both formats what is enabled (its own output is unused).
    text: SimpleLogger,
    format: LogFormat,
    threads: bool,
    clock: Mutex<LogClock>,
    /// The writer thread's end: lines go there, never straight to stderr.
    out: writer::Stderr,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.text.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = Vec::with_capacity(256);
        {
            let mut clock = self.clock.lock().unwrap_or_else(|e| e.into_inner());
            clock.set(SystemTime::now());
            match self.format {
                LogFormat::Text => write_time_millis(&clock, &mut line),
                LogFormat::Json => {
                    line.extend_from_slice(b"{\"time\":\"");
                    clock.write_rfc3339(&mut line);
                }
            }
        }
        let thread = std::thread::current();
        let thread = if self.threads { Some(thread.name().unwrap_or("?")) } else { None };
        match self.format {
            LogFormat::Text => text_line(record, thread, &mut line),
            LogFormat::Json => {
                line.push(b'"');
                json_line(record, thread, &mut line);
            }
        }
        self.out.send(line);
    }

    /// Waits (briefly) for the writer: the process is about to exit.
    fn flush(&self) {
        self.out.flush();
    }
}

/// The rest of a text line after its time, simple_logger's layout:
/// `TIME LEVEL [target@thread] message`.
fn text_line(record: &Record<'_>, thread: Option<&str>, line: &mut Vec<u8>) {
    let target = if record.target().is_empty() { record.module_path().unwrap_or_default() } else { record.target() };
    let _ = write!(line, " {:<5} [{target}", record.level().as_str());
    if let Some(name) = thread {
        line.push(b'@');
        line.extend_from_slice(name.as_bytes());
    }
    line.extend_from_slice(b"] ");
    if record.key_values().count() == 0 {
        let _ = write!(line, "{}", record.args());
    } else {
        line.extend_from_slice(text_message(record).as_bytes());
    }
    line.push(b'\n');
}

/// `#ID message key=value ...`: the id first, the other fields after.
pub fn text_message(record: &Record<'_>) -> String {
    struct Text {
        conn: Option<String>,
        rest: String,
    }
    impl<'kvs> VisitSource<'kvs> for Text {
        fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
            if key.as_str() == CONN {
                self.conn = Some(value.to_string());
                return Ok(());
            }
            let value = value.to_string();
            // Quote values a reader would otherwise split: `error="Connection reset by peer"`.
            if value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == '"' || c == '=') {
                let _ = write!(self.rest, " {key}={value:?}");
            } else {
                let _ = write!(self.rest, " {key}={value}");
            }
            Ok(())
        }
    }
    let mut fields = Text { conn: None, rest: String::new() };
    let _ = record.key_values().visit(&mut fields);
    match fields.conn {
        Some(id) => format!("#{id} {}{}", record.args(), fields.rest),
        None => format!("{}{}", record.args(), fields.rest),
    }
}

/// Appends the rest of a JSON line after `{"time":"..."`: level, target,
/// message, the thread if asked for, and every field; then `}` and a newline.
pub fn json_line(record: &Record<'_>, thread: Option<&str>, out: &mut Vec<u8>) {
    struct Json<'o>(&'o mut Vec<u8>);
    impl<'kvs> VisitSource<'kvs> for Json<'_> {
        fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
            member(self.0, key.as_str());
            if let Some(n) = value.to_u64() {
                self.0.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            } else if let Some(n) = value.to_i64() {
                self.0.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            } else if let Some(b) = value.to_bool() {
                self.0.extend_from_slice(if b { b"true" } else { b"false" });
            } else {
                string(self.0, &value.to_string());
            }
            Ok(())
        }
    }
    member(out, "level");
    string(out, record.level().as_str());
    member(out, "target");
    string(out, record.target());
    member(out, "message");
    string(out, &record.args().to_string());
    if let Some(name) = thread {
        member(out, "thread");
        string(out, name);
    }
    let _ = record.key_values().visit(&mut Json(out));
    out.extend_from_slice(b"}\n");
}

fn member(out: &mut Vec<u8>, key: &str) {
    out.push(b',');
    string(out, key);
    out.push(b':');
}

fn string(out: &mut Vec<u8>, s: &str) {
    // JSON's escapes, and `\uXXXX` for what could break or disguise a line
    // (C1 controls, U+2028/2029, bidi controls), as in the access log.
    crate::access_log::escape::json_string(out, s);
}

/// Client bytes made safe for a log line: printable ASCII as it is, any
/// other byte (control characters, escape sequences, invalid UTF-8) as
/// `\xNN`, and `"` and `\` escaped. Formatting allocates nothing.
pub fn escaped(bytes: &[u8]) -> impl fmt::Display + '_ {
    bytes.escape_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_record<R>(kvs: &[(&str, Value<'_>)], message: fmt::Arguments<'_>, f: impl FnOnce(&Record<'_>) -> R) -> R {
        let kvs: Vec<(&str, Value<'_>)> = kvs.to_vec();
        let record = Record::builder()
            .level(log::Level::Debug)
            .target("loophttp::event_loop")
            .args(message)
            .key_values(&kvs)
            .build();
        f(&record)
    }

    #[test]
    fn text_puts_the_id_first_and_the_fields_after() {
        let peer = "127.0.0.1:5000";
        let text = with_record(
            &[("conn", Value::from(7u64)), ("peer", Value::from(peer)), ("error", Value::from("reset by peer"))],
            format_args!("close"),
            text_message,
        );
        assert_eq!(text, r#"#7 close peer=127.0.0.1:5000 error="reset by peer""#);
        assert_eq!(with_record(&[], format_args!("listening"), text_message), "listening");
    }

    #[test]
    fn json_is_one_object_per_line_with_the_fields_as_members() {
        let line = with_record(
            &[("conn", Value::from(7u64)), ("path", Value::from("/a\"b")), ("hup", Value::from(true))],
            format_args!("open \"x\""),
            |r| {
                let mut out = b"{\"time\":\"2026-12-01T06:50:00.000001Z\"".to_vec();
                json_line(r, Some("loophttp-0"), &mut out);
                out
            },
        );
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["level"], "DEBUG");
        assert_eq!(v["target"], "loophttp::event_loop");
        assert_eq!(v["message"], "open \"x\"");
        assert_eq!(v["thread"], "loophttp-0");
        assert_eq!(v["conn"], 7);
        assert_eq!(v["path"], "/a\"b");
        assert_eq!(v["hup"], true);
    }

    #[test]
    fn client_bytes_are_escaped() {
        let shown = escaped(b"/a\x1b[31m\nb\xff\"").to_string();
        assert_eq!(shown, r#"/a\x1b[31m\nb\xff\""#);
        assert!(shown.bytes().all(|b| (b' '..=b'~').contains(&b)));
    }
}
