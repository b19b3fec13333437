//! The client's text a request's access-log line needs (method, target,
//! version, `User-Agent`, `Referer`), copied at arrival into the
//! connection's text store, read back when the line is written, and cut
//! from the store once no record needs it. Kept only with the log on.

use std::time::Duration;

use super::TEXT_HIGH_WATER;
use super::arrival::Arrival;
use super::records::{ABSENT, Pending, Records};
use crate::access_log::Entry;
use crate::access_log::format::{LINE_LIMITS, MAX_HEADER};
use crate::access_log::pieces::push_cut;

/// Whether the request line is kept as one piece, its tokens joined by
/// single spaces as Combined prints them: each is there and none was cut
/// (the usual case). Combined then escapes the line in one pass, and it
/// was copied in one go. Decided from the kept lengths alone, so the
/// store needs no flag.
fn joined(lens: &[u16; 5]) -> bool {
    lens[..3].iter().zip(LINE_LIMITS).all(|(&len, max)| (1..=max).contains(&usize::from(len)))
}

impl Records {
    /// Copies `a`'s text to the store: where it starts, and the five
    /// lengths (method, target, version, agent, referer).
    pub(super) fn keep_text(&mut self, a: &Arrival<'_>) -> (usize, [u16; 5]) {
        let text_at = self.text.len();
        let mut lens = [ABSENT; 5];
        let line = [a.method_text, a.target, a.version];
        // One byte past the limit tells the formatter to mark the cut.
        let line = [0, 1, 2].map(|i| &line[i][..line[i].len().min(LINE_LIMITS[i] + 1)]);
        for (len, v) in lens.iter_mut().zip(line) {
            *len = v.len() as u16;
        }
        if joined(&lens) {
            let [method, target, version] = line;
            // Short pieces as fixed-size ones: a copy of a length known only
            // at run time is a `memcpy` call (access_log/pieces.rs).
            match method.len() {
                // Every method we know: its bytes and a space, one word.
                len @ 1..8 => {
                    let word = method.iter().rev().fold(0u64, |word, &b| word << 8 | u64::from(b));
                    push_cut(&mut self.text, (word | u64::from(b' ') << (8 * len)).to_le_bytes(), len + 1);
                }
                _ => {
                    self.text.extend_from_slice(method);
                    self.text.push(b' ');
                }
            }
            self.text.extend_from_slice(target);
            match <[u8; 8]>::try_from(version) {
                // HTTP/1.1 and HTTP/1.0.
                Ok(v) => self.text.extend_from_slice(&[b' ', v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]),
                Err(_) => {
                    self.text.push(b' ');
                    self.text.extend_from_slice(version);
                }
            }
        } else {
            for v in line {
                self.text.extend_from_slice(v);
            }
        }
        for (len, value) in lens[3..].iter_mut().zip([a.user_agent, a.referer]) {
            if let Some(v) = value {
                let v = &v[..v.len().min(MAX_HEADER + 1)];
                self.text.extend_from_slice(v);
                *len = v.len() as u16;
            }
        }
        (text_at, lens)
    }

    /// The access-log line of `p`, answered with `status`, `sent` bytes of
    /// it written.
    pub(super) fn entry<'r>(&'r self, p: &Pending, status: u16, sent: u64, duration: Duration) -> Entry<'r> {
        let mut at = p.text_at;
        let [m, t, v] = [0, 1, 2].map(|i| usize::from(p.lens[i]));
        let (request_line, method, target, version) = if joined(&p.lens) {
            // A joined line (the usual case): the tokens lie in it, a space apart.
            let line = &self.text[at..at + m + 1 + t + 1 + v];
            at += line.len();
            (Some(line), &line[..m], &line[m + 1..m + 1 + t], &line[m + 1 + t + 1..])
        } else {
            // A record made without text (only with the log off) has none.
            let [m, t, v] = [m, t, v].map(|len| if len == usize::from(ABSENT) { 0 } else { len });
            let line = &self.text[at..at + m + t + v];
            at += line.len();
            (None, &line[..m], &line[m..m + t], &line[m + t..])
        };
        let mut field = |i: usize| {
            let len = p.lens[i];
            if len == ABSENT {
                return None;
            }
            let v = &self.text[at..at + usize::from(len)];
            at += usize::from(len);
            Some(v)
        };
        let (user_agent, referer) = (field(3), field(4));
        Entry {
            peer: p.client,
            method,
            target,
            version,
            request_line,
            status,
            bytes_sent: sent,
            body_bytes_sent: sent.saturating_sub(p.head_len),
            bytes_received: p.received,
            duration,
            user_agent,
            referer,
            conn_id: self.conn_id,
            request_no: u64::from(p.number),
        }
    }

    /// Where the oldest text still needed starts.
    fn text_start(&self) -> Option<usize> {
        self.queue.front().map(|p| p.text_at)
    }

    /// After the front record left: keeps the text store from growing
    /// while a pipeline never drains.
    pub(super) fn trim_text(&mut self) {
        match self.text_start() {
            None => self.text.clear(),
            Some(cut) if cut > TEXT_HIGH_WATER / 2 => {
                self.text.drain(..cut);
                for q in self.queue.iter_mut() {
                    q.text_at -= cut;
                }
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Instant;

    use super::*;
    use crate::access_log::format::{MAX_TARGET, MAX_TOKEN};
    use crate::metrics::labels::{MethodLabel, Route};

    fn record(text_at: usize, lens: [u16; 5]) -> Pending {
        Pending {
            started: Instant::now(),
            client: IpAddr::V4(Ipv4Addr::LOCALHOST),
            method: MethodLabel::Other,
            route: Route::Other,
            status: 0,
            text_at,
            lens,
            received: 0,
            start: 0,
            end: None,
            head_len: 0,
            number: 1,
            count: 1,
        }
    }

    /// What the line shows of `v`: as much as the formatter sees.
    fn bounded(v: &[u8], max: usize) -> &[u8] {
        &v[..v.len().min(max + 1)]
    }

    #[test]
    fn kept_text_reads_back_as_it_arrived_joined_or_not() {
        let long = vec![b'a'; MAX_TARGET + 5];
        let long_token = vec![b'M'; MAX_TOKEN + 1];
        // Around the word a method is copied as (up to 7 bytes and a space).
        let tokens: [&[u8]; 6] = [b"", b"G", b"GET", b"OPTIONS", b"EIGHT_ME", &long_token];
        let targets: [&[u8]; 5] = [b"", b"/", b"/echo/abc", b"/x\"y z", &long];
        let versions: [&[u8]; 4] = [b"", b"HTTP/1.1", b"HTTP/1.0x", &long_token];
        let headers: [Option<&[u8]>; 3] = [None, Some(b""), Some(b"curl/8.1")];
        let mut r = Records::default();
        // Some text before, as a pipeline leaves it.
        r.text.extend_from_slice(b"older");
        for method_text in tokens {
            for target in targets {
                for version in versions {
                    for (user_agent, referer) in [(headers[0], headers[2]), (headers[2], headers[1])] {
                        let a = Arrival { method_text, target, version, user_agent, referer, ..Arrival::default() };
                        let (at, lens) = r.keep_text(&a);
                        let e = r.entry(&record(at, lens), 200, 0, Duration::ZERO);
                        assert_eq!(e.method, bounded(method_text, MAX_TOKEN));
                        assert_eq!(e.target, bounded(target, MAX_TARGET));
                        assert_eq!(e.version, bounded(version, MAX_TOKEN));
                        assert_eq!(e.user_agent, user_agent.map(|v| bounded(v, MAX_HEADER)));
                        assert_eq!(e.referer, referer.map(|v| bounded(v, MAX_HEADER)));
                        let whole = [(method_text, MAX_TOKEN), (target, MAX_TARGET), (version, MAX_TOKEN)]
                            .iter()
                            .all(|(v, max)| (1..=*max).contains(&v.len()));
                        let want = whole.then(|| [method_text, target, version].join(&b' '));
                        assert_eq!(e.request_line, want.as_deref(), "{a:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_record_without_text_reads_as_empty() {
        let r = Records::default();
        let e = r.entry(&record(0, [ABSENT; 5]), 200, 0, Duration::ZERO);
        assert!(e.method.is_empty() && e.target.is_empty() && e.version.is_empty());
        assert_eq!((e.request_line, e.user_agent, e.referer), (None, None, None));
    }
}
