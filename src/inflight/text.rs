//! The client's text a request's access-log line needs (method, target,
//! version, `User-Agent`, `Referer`), copied at arrival into the
//! connection's text store, read back when the line is written, and cut
//! from the store once no record needs it. Kept only with the log on.

use std::time::Duration;

use super::TEXT_HIGH_WATER;
use super::arrival::Arrival;
use super::records::{ABSENT, Pending, Records};
use crate::access_log::Entry;
use crate::access_log::format::{MAX_HEADER, MAX_TARGET, MAX_TOKEN};

impl Records {
    /// Copies `a`'s text to the store: where it starts, and the five
    /// lengths (method, target, version, agent, referer).
    pub(super) fn keep_text(&mut self, a: &Arrival<'_>) -> (usize, [u16; 5]) {
        let text_at = self.text.len();
        let mut lens = [ABSENT; 5];
        let fields = [
            (Some(a.method_text), MAX_TOKEN),
            (Some(a.target), MAX_TARGET),
            (Some(a.version), MAX_TOKEN),
            (a.user_agent, MAX_HEADER),
            (a.referer, MAX_HEADER),
        ];
        for (len, (value, max)) in lens.iter_mut().zip(fields) {
            if let Some(v) = value {
                // One byte past the limit tells the formatter to mark the cut.
                let v = &v[..v.len().min(max + 1)];
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
        let mut field = |i: usize| {
            let len = p.lens[i];
            if len == ABSENT {
                return None;
            }
            let v = &self.text[at..at + usize::from(len)];
            at += usize::from(len);
            Some(v)
        };
        let (method, target, version) = (field(0), field(1), field(2));
        let (user_agent, referer) = (field(3), field(4));
        Entry {
            peer: p.client,
            method: method.unwrap_or_default(),
            target: target.unwrap_or_default(),
            version: version.unwrap_or_default(),
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
