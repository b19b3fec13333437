//! The access-log line's first half, what the request says (its line,
//! `User-Agent`, `Referer`), rendered at arrival into the connection's
//! text store, read back when the line is written, and cut from the
//! store once no record needs it. Kept only with the log on.

use std::time::Duration;

use super::TEXT_HIGH_WATER;
use super::arrival::Arrival;
use super::records::{Pending, Records};
use crate::access_log::{AccessLog, Completion, Kept, Request};

impl Records {
    /// Renders the line's half that `a`, request `number` on this
    /// connection, says into the store: where it starts, and its pieces.
    pub(super) fn keep_text(&mut self, a: &Arrival<'_>, number: u32, log: &mut AccessLog) -> (usize, Kept) {
        let text_at = self.text.len();
        let request = Request {
            line: a.line,
            user_agent: a.user_agent,
            referer: a.referer,
            conn_id: self.conn_id,
            request_no: u64::from(number),
        };
        (text_at, log.keep(&request, &mut self.text))
    }

    /// The kept half of `p`'s line, and the rest: answered with `status`,
    /// `sent` bytes of it written.
    #[inline(always)]
    pub(super) fn line(&self, p: &Pending, status: u16, sent: u64, duration: Duration) -> (&[u8], Completion) {
        let kept = &self.text[p.text_at..p.text_at + p.kept.len()];
        let c = Completion {
            peer: p.client,
            status,
            bytes_sent: sent,
            body_bytes_sent: sent.saturating_sub(p.head_len),
            bytes_received: p.received,
            duration,
        };
        (kept, c)
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
    use crate::access_log::{Format, Line};
    use crate::http::Method;
    use crate::metrics::labels::{MethodLabel, Route};

    fn record(text_at: usize, kept: Kept) -> Pending {
        Pending {
            started: Instant::now(),
            client: IpAddr::V4(Ipv4Addr::LOCALHOST),
            method: MethodLabel::Other,
            route: Route::Other,
            status: 0,
            text_at,
            kept,
            received: 0,
            start: 0,
            end: None,
            head_len: 0,
            number: 1,
            count: 1,
        }
    }

    #[test]
    fn kept_text_reads_back_behind_what_is_already_kept() {
        let mut log = AccessLog::new(None, Format::Combined);
        let mut r = Records::default();
        // Some text before, as a pipeline leaves it.
        r.text.extend_from_slice(b"older");
        let line = Line::Parsed { method: Method::Get, target: b"/x", plain: true, http11: true };
        let a = Arrival { line, ..Arrival::default() };
        let (at, kept) = r.keep_text(&a, 3, &mut log);
        assert_eq!(at, 5);
        let (text, c) = r.line(&record(at, kept), 200, 120, Duration::ZERO);
        // The request, then the headers: the status and bytes go between.
        assert_eq!(text, b"GET /x HTTP/1.1\" \x20\"-\" \"-\" ");
        assert_eq!((c.status, c.bytes_sent, c.body_bytes_sent), (200, 120, 120));
    }

    #[test]
    fn a_record_without_text_reads_as_empty() {
        let r = Records::default();
        let (text, _) = r.line(&record(0, Kept::default()), 200, 0, Duration::ZERO);
        assert!(text.is_empty());
    }
}
