//! Wall-clock time as the two log formats print it, formatted at most once
//! a second (like the `Date` header cache): a line only appends the
//! microseconds, so no line pays for calendar arithmetic.

use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The current second in both formats, refreshed when the second changes.
#[derive(Debug)]
pub struct LogClock {
    secs: u64,
    /// `01/Dec/2026:04:51:09 +0000` (Combined's `[%t]`, always UTC).
    clf: [u8; 26],
    /// `2026-12-01T04:51:09.` (RFC 3339; the microseconds and `Z` follow).
    rfc3339: [u8; 20],
    micros: u32,
}

impl Default for LogClock {
    fn default() -> Self {
        let mut c = LogClock { secs: u64::MAX, clf: [b'0'; 26], rfc3339: [b'0'; 20], micros: 0 };
        c.set(SystemTime::now());
        c
    }
}

impl LogClock {
    /// Moves the clock to `now`; reformats only when the second changed,
    /// and says whether it did.
    pub fn set(&mut self, now: SystemTime) -> bool {
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        self.micros = since.subsec_micros();
        let secs = since.as_secs();
        if secs == self.secs {
            return false;
        }
        self.secs = secs;
        let c = Civil::from_unix(secs);
        let mut clf = Vec::with_capacity(26);
        clf.extend_from_slice(two(c.day).as_slice());
        clf.push(b'/');
        clf.extend_from_slice(MONTHS[c.month as usize - 1].as_bytes());
        clf.push(b'/');
        clf.extend_from_slice(&four(c.year));
        for (sep, v) in [(b':', c.hour), (b':', c.minute), (b':', c.second)] {
            clf.push(sep);
            clf.extend_from_slice(&two(v));
        }
        clf.extend_from_slice(b" +0000");
        self.clf.copy_from_slice(&clf);
        let mut r = Vec::with_capacity(20);
        r.extend_from_slice(&four(c.year));
        for (sep, v) in [(b'-', c.month), (b'-', c.day), (b'T', c.hour), (b':', c.minute), (b':', c.second)] {
            r.push(sep);
            r.extend_from_slice(&two(v));
        }
        r.push(b'.');
        self.rfc3339.copy_from_slice(&r);
        true
    }

    /// `01/Dec/2026:04:51:09 +0000`
    pub fn clf(&self) -> &[u8; 26] {
        &self.clf
    }

    /// Appends `2026-12-01T04:51:09.123456Z`.
    pub fn write_rfc3339(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.rfc3339);
        let mut digits = [b'0'; 6];
        let mut m = self.micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (m % 10) as u8;
            m /= 10;
        }
        out.extend_from_slice(&digits);
        out.push(b'Z');
    }
}

fn two(v: u32) -> [u8; 2] {
    [b'0' + (v / 10 % 10) as u8, b'0' + (v % 10) as u8]
}

fn four(v: u32) -> [u8; 4] {
    [b'0' + (v / 1000 % 10) as u8, b'0' + (v / 100 % 10) as u8, b'0' + (v / 10 % 10) as u8, b'0' + (v % 10) as u8]
}

/// A UTC calendar date and time of day.
#[derive(Debug, PartialEq, Eq)]
struct Civil {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Civil {
    /// Howard Hinnant's `civil_from_days`, for days since 1970-01-01.
    fn from_unix(secs: u64) -> Civil {
        let days = (secs / 86_400) as i64;
        let rem = (secs % 86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u32;
        Civil { year, month, day, hour: rem / 3600, minute: rem / 60 % 60, second: rem % 60 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, micros: u64) -> LogClock {
        let mut c = LogClock::default();
        c.set(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros));
        c
    }

    #[test]
    fn formats_the_issue_example_both_ways() {
        // 2026-12-01T04:51:09Z
        let c = at(1_796_100_669, 42);
        assert_eq!(std::str::from_utf8(c.clf()).unwrap(), "01/Dec/2026:04:51:09 +0000");
        let mut out = Vec::new();
        c.write_rfc3339(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "2026-12-01T04:51:09.000042Z");
    }

    #[test]
    fn calendar_edges() {
        assert_eq!(Civil::from_unix(0), Civil { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0 });
        // 2000-02-29T23:59:59Z: a leap day of a century leap year.
        assert_eq!(
            Civil::from_unix(951_868_799),
            Civil { year: 2000, month: 2, day: 29, hour: 23, minute: 59, second: 59 }
        );
        // 2100-03-01T00:00:00Z: 2100 is not a leap year.
        assert_eq!(
            Civil::from_unix(4_107_542_400),
            Civil { year: 2100, month: 3, day: 1, hour: 0, minute: 0, second: 0 }
        );
    }

    #[test]
    fn agrees_with_the_http_date_formatter_for_many_seconds() {
        // httpdate is an independent implementation of the same calendar.
        for secs in (0..4_000_000_000u64).step_by(7_777_777) {
            let c = at(secs, 0);
            let http = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs)); // "Sun, 06 Nov 1994 08:49:37 GMT"
            let clf = std::str::from_utf8(c.clf()).unwrap().to_owned(); // "06/Nov/1994:08:49:37 +0000"
            let want = format!("{}/{}/{}:{} +0000", &http[5..7], &http[8..11], &http[12..16], &http[17..25]);
            assert_eq!(clf, want, "{secs}");
        }
    }
}
