//! Conditional and range requests for files (RFC 9110 §13, §14): which
//! validators a file has, whether a request's preconditions let it get a
//! 304, and which byte range (if any) it gets. Pure functions of the
//! request head and the file's metadata.

use std::fs::Metadata;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::http::response::{ETag, Validators};
use crate::http::{Head, Method};

/// Seconds from the epoch to 9999-12-31T23:59:59Z, the last instant an HTTP
/// date (four-digit year) can name.
const HTTP_DATE_MAX_SECS: u64 = 253_402_300_799;

pub(crate) fn validators(meta: &Metadata) -> Validators {
    let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
    let mtime_nanos = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    Validators { etag: ETag { size: meta.len(), mtime_nanos }, modified: http_date_range(mtime) }
}

/// The file time as Last-Modified can carry it: HTTP dates run from 1970 to
/// year 9999, and formatting one outside that range panics (httpdate), so a
/// file dated earlier (`touch -d 1965-01-01`) says 1970-01-01 and one dated
/// later says 9999-12-31. The conditions compare against this same value,
/// so what a client sends back from Last-Modified still matches.
fn http_date_range(t: SystemTime) -> SystemTime {
    t.clamp(UNIX_EPOCH, UNIX_EPOCH + Duration::from_secs(HTTP_DATE_MAX_SECS))
}

/// RFC 9110 §13.1.2 / §13.1.3: If-None-Match wins; If-Modified-Since only
/// without it. Weak comparison for If-None-Match.
pub(crate) fn not_modified(head: &Head<'_>, v: &Validators) -> bool {
    if let Some(inm) = head.if_none_match {
        return etag_list_matches(inm, &v.etag.to_string(), true);
    }
    let Some(ims) = head.if_modified_since.and_then(parse_date) else { return false };
    truncate_to_secs(v.modified) <= ims
}

fn etag_list_matches(list: &[u8], etag: &str, weak: bool) -> bool {
    list.split(|&b| b == b',').map(<[u8]>::trim_ascii).any(|tag| {
        let tag = if weak { tag.strip_prefix(b"W/").unwrap_or(tag) } else { tag };
        tag == b"*" || tag == etag.as_bytes()
    })
}

fn parse_date(value: &[u8]) -> Option<SystemTime> {
    httpdate::parse_http_date(std::str::from_utf8(value).ok()?).ok()
}

fn truncate_to_secs(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    Whole,
    Part { first: u64, last: u64 },
    Unsatisfiable,
}

/// RFC 9110 §14.2: one `bytes=` range is served; several, or a syntax we do
/// not understand, get the whole file; `If-Range` must match exactly.
pub(crate) fn requested_range(head: &Head<'_>, v: &Validators, size: u64) -> RangeAnswer {
    let (Some(range), Method::Get) = (head.range, head.method) else { return RangeAnswer::Whole };
    if let Some(if_range) = head.if_range {
        let fresh = if if_range.starts_with(b"\"") {
            etag_list_matches(if_range, &v.etag.to_string(), false)
        } else {
            parse_date(if_range) == Some(truncate_to_secs(v.modified))
        };
        if !fresh {
            return RangeAnswer::Whole;
        }
    }
    parse_range(range, size)
}

fn parse_range(range: &[u8], size: u64) -> RangeAnswer {
    // The range unit is case-insensitive (RFC 9110 §14.1).
    let Some((unit, spec)) = range.split_first_chunk::<6>() else { return RangeAnswer::Whole };
    if !unit.eq_ignore_ascii_case(b"bytes=") {
        return RangeAnswer::Whole;
    }
    let spec = spec.trim_ascii();
    if spec.contains(&b',') {
        return RangeAnswer::Whole;
    }
    let Some(dash) = spec.iter().position(|&b| b == b'-') else { return RangeAnswer::Whole };
    let number = |s: &[u8]| -> Option<u64> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    match (number(first), number(last), first.is_empty()) {
        // `-n`: the last n bytes. An empty file has no byte to send, but
        // `-n` (n > 0) is still satisfiable (§14.1.1): the whole, empty, file.
        (None, Some(n), true) if n > 0 && size > 0 => {
            RangeAnswer::Part { first: size.saturating_sub(n), last: size - 1 }
        }
        (None, Some(n), true) if n > 0 => RangeAnswer::Whole,
        (None, Some(_), true) => RangeAnswer::Unsatisfiable,
        // `a-` and `a-b`.
        (Some(a), None, false) if last.is_empty() && a < size => RangeAnswer::Part { first: a, last: size - 1 },
        (Some(a), Some(b), false) if a <= b && a < size => RangeAnswer::Part { first: a, last: b.min(size - 1) },
        (Some(a), _, false) if a >= size && (last.is_empty() || number(last).is_some_and(|b| a <= b)) => {
            RangeAnswer::Unsatisfiable
        }
        _ => RangeAnswer::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        use RangeAnswer::*;
        let cases: &[(&[u8], u64, RangeAnswer)] = &[
            (b"bytes=0-9", 100, Part { first: 0, last: 9 }),
            (b"bytes=90-", 100, Part { first: 90, last: 99 }),
            (b"bytes=-10", 100, Part { first: 90, last: 99 }),
            (b"bytes=-500", 100, Part { first: 0, last: 99 }),
            (b"bytes=50-5000", 100, Part { first: 50, last: 99 }),
            (b"bytes=100-", 100, Unsatisfiable),
            (b"bytes=100-200", 100, Unsatisfiable),
            (b"bytes=-0", 100, Unsatisfiable),
            (b"bytes=0-", 0, Unsatisfiable),
            (b"bytes=0-1,5-6", 100, Whole),
            (b"bytes=9-1", 100, Whole),
            (b"items=0-1", 100, Whole),
            (b"bytes=x-1", 100, Whole),
            (b"Bytes=1-2", 100, Part { first: 1, last: 2 }),
            (b"bytes=-5", 0, Whole),
            (b"bytes=", 100, Whole),
            (b"bytes=-", 100, Whole),
            (b"bytes=+1-2", 100, Whole),
            (b"bytes=99999999999999999999-", 100, Whole),
        ];
        for (spec, size, want) in cases {
            assert_eq!(&parse_range(spec, *size), want, "{:?}", String::from_utf8_lossy(spec));
        }
    }

    #[test]
    fn etag_lists_compare_weakly_or_strongly() {
        let tag = "\"a-b-c\"";
        assert!(etag_list_matches(b"\"x\", W/\"a-b-c\"", tag, true));
        assert!(!etag_list_matches(b"W/\"a-b-c\"", tag, false));
        assert!(etag_list_matches(b"*", tag, true));
        assert!(!etag_list_matches(b"\"other\"", tag, true));
    }

    const ETAG: ETag = ETag { size: 100, mtime_nanos: 1_500_000_000 };
    /// Last-Modified of [`validators`]: 1.5 s after the epoch, sent as 1 s.
    const SECOND_1: &[u8] = b"Thu, 01 Jan 1970 00:00:01 GMT";
    const SECOND_2: &[u8] = b"Thu, 01 Jan 1970 00:00:02 GMT";
    const SECOND_0: &[u8] = b"Thu, 01 Jan 1970 00:00:00 GMT";

    fn validators() -> Validators {
        Validators { etag: ETAG, modified: UNIX_EPOCH + Duration::from_millis(1500) }
    }

    /// `GET /files/a` with no condition, as the parser makes it.
    fn get() -> Head<'static> {
        let limits = crate::http::Limits { max_uri: 8192, max_head: 16384, max_headers: 100 };
        match crate::http::parse::parse_once(
            b"GET /files/a HTTP/1.1\r\nHost: x\r\n\r\n",
            &limits,
            &mut Default::default(),
        ) {
            Ok(crate::http::Parsed::Complete(head, _)) => head,
            other => panic!("the fixture must parse: {other:?}"),
        }
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        let v = validators();
        let ims = |date: &[u8]| not_modified(&Head { if_modified_since: Some(date), ..get() }, &v);
        assert!(ims(SECOND_1), "same second as Last-Modified");
        assert!(ims(SECOND_2), "later than Last-Modified");
        assert!(!ims(SECOND_0), "earlier than Last-Modified");
        assert!(!ims(b"yesterday"), "invalid dates are ignored");
        assert!(!not_modified(&get(), &v), "no condition, no 304");
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        let v = validators();
        let tag = ETAG.to_string();
        assert!(not_modified(
            &Head { if_none_match: Some(tag.as_bytes()), if_modified_since: Some(SECOND_0), ..get() },
            &v
        ));
        let other = Head { if_none_match: Some(b"\"other\""), if_modified_since: Some(SECOND_2), ..get() };
        assert!(!not_modified(&other, &v), "a failed If-None-Match is not rescued by the date");
    }

    #[test]
    fn if_range_serves_the_part_only_while_the_validator_matches() {
        use RangeAnswer::*;
        let v = validators();
        let (tag, weak) = (ETAG.to_string(), format!("W/{ETAG}"));
        let ranged =
            |if_range: Option<&[u8]>| requested_range(&Head { range: Some(b"bytes=0-9"), if_range, ..get() }, &v, 100);
        let part = Part { first: 0, last: 9 };
        assert_eq!(ranged(None), part);
        assert_eq!(ranged(Some(tag.as_bytes())), part);
        assert_eq!(ranged(Some(b"\"1-2-3\"")), Whole, "stale ETag");
        assert_eq!(ranged(Some(weak.as_bytes())), Whole, "If-Range compares strongly");
        assert_eq!(ranged(Some(SECOND_1)), part, "exact Last-Modified");
        assert_eq!(ranged(Some(SECOND_2)), Whole, "any other date");
        assert_eq!(ranged(Some(b"garbage")), Whole);
    }

    #[test]
    fn file_times_outside_http_dates_are_clamped_and_format_without_panic() {
        let latest = UNIX_EPOCH + Duration::from_secs(HTTP_DATE_MAX_SECS);
        let cases = [
            (UNIX_EPOCH - Duration::from_secs(157_766_400), "Thu, 01 Jan 1970 00:00:00 GMT"),
            (UNIX_EPOCH - Duration::from_nanos(1), "Thu, 01 Jan 1970 00:00:00 GMT"),
            (UNIX_EPOCH + Duration::from_secs(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT"),
            (latest, "Fri, 31 Dec 9999 23:59:59 GMT"),
            (latest + Duration::from_secs(1), "Fri, 31 Dec 9999 23:59:59 GMT"),
            (latest + Duration::from_secs(1 << 40), "Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for (t, want) in cases {
            assert_eq!(httpdate::fmt_http_date(http_date_range(t)), want, "{t:?}");
        }
    }

    #[test]
    fn if_modified_since_outside_http_dates_is_ignored_without_panic() {
        let v = Validators { etag: ETAG, modified: UNIX_EPOCH };
        let cases: &[(&[u8], bool)] = &[
            (b"Thu, 01 Jan 1969 23:59:59 GMT", false),
            (b"Sat, 01 Jan 10000 00:00:00 GMT", false),
            (b"Fri, 31 Dec 9999 23:59:59 GMT", true),
            (b"Mon, 31 Feb 2025 00:00:00 GMT", false),
            (b"Thu, 00 Jan 1970 00:00:00 GMT", false),
            (b"Sunday, 06-Nov-94 08:49:37 GMT", true),
            (b"Sun Nov  6 08:49:37 1994", true),
            (b"\xff\xfe", false),
            (b"", false),
        ];
        for &(date, is_304) in cases {
            let head = Head { if_modified_since: Some(date), range: Some(b"bytes=0-1"), if_range: Some(date), ..get() };
            assert_eq!(not_modified(&head, &v), is_304, "{:?}", String::from_utf8_lossy(date));
            assert_eq!(requested_range(&head, &v, 100), RangeAnswer::Whole, "{:?}", String::from_utf8_lossy(date));
        }
    }

    #[test]
    fn range_applies_to_get_only() {
        let head = Head { method: Method::Head, range: Some(b"bytes=0-9"), ..get() };
        assert_eq!(requested_range(&head, &validators(), 100), RangeAnswer::Whole);
    }
}
