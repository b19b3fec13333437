//! The `Date` and `Server` lines (and `X-Content-Type-Options: nosniff`)
//! every response carries after its status line, formatted at most once a
//! second and copied as one piece.

use std::time::{SystemTime, UNIX_EPOCH};

/// The `Server` line, which follows `Date` in every response, and
/// `X-Content-Type-Options: nosniff` (every response, so no browser ever
/// guesses a script or a page from a body's bytes): one fixed piece.
const SERVER_LINE: &str =
    concat!("\r\nServer: loophttp/", env!("CARGO_PKG_VERSION"), "\r\nX-Content-Type-Options: nosniff");
/// An IMF-fixdate (RFC 9110 §5.6.7) is always this long.
const DATE_LEN: usize = 29;
const DATE_NAME: &[u8] = b"\r\nDate: ";
/// `\r\nDate: {date}\r\nServer: loophttp/{version}\r\nX-Content-Type-Options:
/// nosniff`: the lines every response carries after its status line, one
/// fixed-size piece.
pub type DateLines = [u8; DATE_NAME.len() + DATE_LEN + SERVER_LINE.len()];

/// The `Date` line (and the `Server` line after it), formatted at most
/// once a second.
pub struct DateCache {
    secs: u64,
    lines: DateLines,
}

impl Default for DateCache {
    fn default() -> Self {
        let mut d = DateCache { secs: u64::MAX, lines: [0; _] };
        d.refresh(SystemTime::now());
        d
    }
}

impl DateCache {
    pub fn refresh(&mut self, now: SystemTime) {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if secs != self.secs {
            self.secs = secs;
            // Four-digit years only (until 9999): a longer one keeps the last.
            if let Ok(date) = httpdate::fmt_http_date(now).as_bytes().try_into() {
                self.lines = lines_for(date);
            }
        }
    }

    pub fn get(&self) -> &DateLines {
        &self.lines
    }
}

/// The `Date` and `Server` lines for `date`.
pub fn lines_for(date: &[u8; DATE_LEN]) -> DateLines {
    let mut lines = [0; _];
    let (name, rest) = lines.split_at_mut(DATE_NAME.len());
    let (value, server) = rest.split_at_mut(DATE_LEN);
    name.copy_from_slice(DATE_NAME);
    value.copy_from_slice(date);
    server.copy_from_slice(SERVER_LINE.as_bytes());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_cache_formats_rfc_9110_dates() {
        let mut d = DateCache::default();
        d.refresh(UNIX_EPOCH + std::time::Duration::from_secs(784_111_777));
        let version = env!("CARGO_PKG_VERSION");
        let expected = format!(
            "\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: loophttp/{version}\r\nX-Content-Type-Options: nosniff"
        );
        assert_eq!(String::from_utf8_lossy(d.get()), expected);
    }
}
