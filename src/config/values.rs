//! Value parsers for the flags: durations and sizes with units, booleans
//! from the environment, and the range each number must fall in. Every
//! value is checked here, at start-up, so nothing later (an `Instant` plus
//! a timeout, a buffer sized from a limit) can overflow or abort.

use std::ops::RangeInclusive;
use std::time::Duration;

/// The longest any timeout may be: a day. Far beyond any useful timeout,
/// and far below what `Instant + Duration` can hold, so a deadline computed
/// from it never overflows.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// Ceiling on the head and request-target limits: each connection's input
/// buffer is the head limit plus one byte, allocated when it gets busy.
pub const MAX_HEAD_CEILING: usize = 1 << 20;

/// Ceiling on `--workers`: one thread and one event loop each.
pub const MAX_WORKERS: usize = 1024;

/// Ceiling on `--max-connections` (per worker): past a few million the
/// descriptor limit refuses long before.
pub const MAX_CONNECTIONS_CEILING: usize = 10_000_000;

/// A duration with a unit, as `humantime` reads it (`1.5s`, `250ms`, `2m`,
/// `1h 30m`); a plain number is seconds. At most [`MAX_TIMEOUT`].
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let parsed = match text.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(text).map_err(|e| format!("{e} (say 10s, 1.5s, 250ms, 2m or 1h)")),
    }?;
    if parsed > MAX_TIMEOUT {
        return Err("at most 24h".into());
    }
    Ok(parsed)
}

/// A size in bytes with an optional unit: `16384`, `64KiB`, `10M`, `1.5G`.
/// `K`, `M` and `G` are powers of 1024 (as nginx reads `10m`), and so are
/// `KiB`, `MiB` and `GiB`.
pub fn size(text: &str) -> Result<u64, String> {
    parse_size::Config::new()
        .with_binary()
        .parse_size(text.trim())
        .map_err(|e| format!("{e} (say 16384, 64KiB or 10M)"))
}

/// A size that must fall in `range`.
fn size_in(text: &str, range: RangeInclusive<u64>) -> Result<u64, String> {
    let n = size(text)?;
    if !range.contains(&n) {
        return Err(format!("must be from {} to {} bytes", range.start(), range.end()));
    }
    Ok(n)
}

/// `--max-body-bytes`: any size a file can have.
pub fn body_size(text: &str) -> Result<u64, String> {
    size(text)
}

/// `--max-head-bytes`: from 64 bytes (a request line and a Host) to [`MAX_HEAD_CEILING`].
pub fn head_size(text: &str) -> Result<usize, String> {
    size_in(text, 64..=MAX_HEAD_CEILING as u64).map(|n| n as usize)
}

/// `--max-uri-bytes`: from 1 byte to [`MAX_HEAD_CEILING`].
pub fn uri_size(text: &str) -> Result<usize, String> {
    size_in(text, 1..=MAX_HEAD_CEILING as u64).map(|n| n as usize)
}

/// A whole number in `range`.
fn number_in<T>(text: &str, range: RangeInclusive<T>) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match text.trim().parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {} to {}", range.start(), range.end())),
    }
}

/// `--workers`: 0 (one per core) to [`MAX_WORKERS`].
pub fn workers(text: &str) -> Result<usize, String> {
    number_in(text, 0..=MAX_WORKERS)
}

/// `--max-connections`: 1 to [`MAX_CONNECTIONS_CEILING`].
pub fn max_connections(text: &str) -> Result<usize, String> {
    number_in(text, 1..=MAX_CONNECTIONS_CEILING)
}

/// `--backlog`: 1 to 65535 (Linux caps it at `net.core.somaxconn` anyway).
pub fn backlog(text: &str) -> Result<i32, String> {
    number_in(text, 1..=65_535)
}

/// `--io-threads`: 1 to 1024 per worker.
pub fn io_threads(text: &str) -> Result<usize, String> {
    number_in(text, 1..=1024)
}

/// `--max-headers`: 1 to the parser's stack array.
pub fn max_headers(text: &str) -> Result<usize, String> {
    number_in(text, 1..=super::MAX_HEADERS_CEILING)
}

/// A boolean as a service manager or container would write it:
/// `1/0`, `true/false`, `yes/no` (also `on/off`, any case).
pub fn boolean(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err("expected 1/0, true/false or yes/no".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_stay_below_a_day() {
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(duration("24h"), Ok(MAX_TIMEOUT));
        for bad in ["18446744073709551615s", "18446744073709551615", "25h", "9999999999999m", "s", "-1s", "1x", ""] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(size("16384"), Ok(16384));
        assert_eq!(size("64KiB"), Ok(64 << 10));
        assert_eq!(size("10M"), Ok(10 << 20));
        assert_eq!(size("1.5G"), Ok(3 << 29));
        assert!(size("64 parsecs").is_err());
        assert!(size("99999E").is_err());
        assert_eq!(head_size("64"), Ok(64));
        assert!(head_size("63").is_err());
        assert!(head_size("2M").is_err());
        assert!(uri_size("0").is_err());
    }

    #[test]
    fn numbers_are_range_checked() {
        assert_eq!(workers("0"), Ok(0));
        assert!(workers("18446744073709551615").is_err());
        assert!(max_connections("0").is_err());
        assert!(backlog("-1").is_err());
        assert!(backlog("2147483648").is_err());
        assert!(max_headers("5000").is_err());
    }

    #[test]
    fn booleans_read_as_the_environment_writes_them() {
        for yes in ["1", "true", "TRUE", "yes", "Yes", "on"] {
            assert_eq!(boolean(yes), Ok(true), "{yes}");
        }
        for no in ["0", "false", "no", "NO", "off"] {
            assert_eq!(boolean(no), Ok(false), "{no}");
        }
        assert!(boolean("2").is_err());
        assert!(boolean("maybe").is_err());
    }
}
