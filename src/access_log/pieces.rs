//! The small pieces of a log line (the peer, numbers, the request time),
//! each appended as one fixed-size piece, then cut to its length.
//!
//! Appending a slice whose length is only known at run time is a call to
//! libc's `memcpy`, ~14 instructions before it copies a byte; a Combined
//! line was ~17 such calls for a few bytes each (callgrind,
//! examples/hotpath.rs). A fixed-size array is appended with a few stores
//! instead, and [`push_cut`] takes back what it wrote beyond the piece.

use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

/// Appends the first `len` bytes of `piece` (the rest is padding).
#[inline(always)]
pub fn push_cut<const N: usize>(out: &mut Vec<u8>, piece: &[u8; N], len: usize) {
    out.extend_from_slice(piece);
    out.truncate(out.len() - (N - len.min(N)));
}

/// Each octet's digits followed by a dot, padded to four bytes, and how
/// many of those bytes are the text.
const OCTETS: [([u8; 4], u8); 256] = {
    let mut t = [([0u8; 4], 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let (h, te, o) = ((i / 100) as u8, (i / 10 % 10) as u8, (i % 10) as u8);
        t[i] = match i {
            0..=9 => ([b'0' + o, b'.', 0, 0], 2),
            10..=99 => ([b'0' + te, b'0' + o, b'.', 0], 3),
            _ => ([b'0' + h, b'0' + te, b'0' + o, b'.'], 4),
        };
        i += 1;
    }
    t
};

/// The peer as nginx's `$remote_addr`: IPv4 clients of a dual-stack
/// socket print as IPv4, not `::ffff:a.b.c.d`.
#[inline(always)]
pub fn peer(out: &mut Vec<u8>, peer: IpAddr) {
    match v4_text(peer) {
        Some((text, len)) => push_cut(out, &text, len),
        None => v6(out, peer),
    }
}

/// An IPv4 peer's text (also one mapped into IPv6), padded to 16 bytes,
/// and its length; None for IPv6. From a table of the 256 octets, with
/// no formatting machinery.
#[inline(always)]
pub fn v4_text(peer: IpAddr) -> Option<([u8; 16], usize)> {
    let IpAddr::V4(v4) = peer.to_canonical() else { return None };
    // At most "255.255.255.255." : 16 bytes.
    let mut text = [0u8; 16];
    let mut len = 0;
    for octet in v4.octets() {
        let (digits, n) = OCTETS[usize::from(octet)];
        // `len` is at most 12 here; `min` lets the compiler see it.
        let at = len.min(12);
        text[at..at + 4].copy_from_slice(&digits);
        len += usize::from(n);
    }
    // Without the last octet's dot.
    Some((text, len - 1))
}

/// Appends `status` in decimal, then `end`: three digits and `end`, one
/// piece, for every status there is (100-999).
#[inline(always)]
pub fn status(out: &mut Vec<u8>, status: u16, end: u8) {
    match three_digits(status) {
        Some(digits) => out.extend_from_slice(&(digits | u32::from(end) << 24).to_le_bytes()),
        None => {
            number(out, u64::from(status));
            out.push(end);
        }
    }
}

/// `n` in three digits, as the low bytes of a little-endian word, if it
/// has three.
#[inline(always)]
fn three_digits(n: u16) -> Option<u32> {
    let (hundreds, rest) = (n / 100, n % 100);
    (1..10).contains(&hundreds).then(|| u32::from(b'0' + hundreds as u8) | u32::from(PAIRS[usize::from(rest)]) << 8)
}

/// [`peer`] for IPv6 (out of line: less usual, and long).
#[inline(never)]
fn v6(out: &mut Vec<u8>, peer: IpAddr) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{}", peer.to_canonical());
}

/// Appends `n` in decimal.
#[inline(always)]
pub fn number(out: &mut Vec<u8>, n: u64) {
    match u32::try_from(n) {
        // Up to eight digits (every status and most lengths): one word.
        Ok(small @ 0..100_000_000) => {
            let (word, len) = digits(small);
            push_cut(out, &word.to_le_bytes(), len);
        }
        _ => large_number(out, n),
    }
}

/// [`number`] beyond eight digits. (Out of line: it kept the usual case
/// from being inlined.)
#[inline(never)]
fn large_number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// `00` to `99`, as little-endian pairs of digits.
const PAIRS: [u16; 100] = {
    let mut t = [0u16; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = u16::from_le_bytes([b'0' + (i / 10) as u8, b'0' + (i % 10) as u8]);
        i += 1;
    }
    t
};

/// `n` (below 10^8) in decimal as the bytes of a little-endian word, and
/// their count. Two digits at a time, from the last, each pair shifted in
/// at the front: the first digit ends in the first byte, with no count of
/// the digits beforehand.
#[inline(always)]
fn digits(mut n: u32) -> (u64, usize) {
    let (mut word, mut len) = (0u64, 0);
    while n >= 100 {
        word = word << 16 | u64::from(PAIRS[(n % 100) as usize]);
        n /= 100;
        len += 2;
    }
    if n >= 10 {
        (word << 16 | u64::from(PAIRS[n as usize]), len + 2)
    } else {
        (word << 8 | u64::from(b'0' + n as u8), len + 1)
    }
}

/// `0.000123` and `end`: seconds with microsecond precision, like nginx's
/// `$request_time` (which has milliseconds).
pub fn seconds(out: &mut Vec<u8>, d: Duration, end: u8) {
    number(out, d.as_secs());
    // Always six digits: the dot, three pairs and `end`, one word.
    let micros = d.subsec_micros();
    let pair = |p: u32| u64::from(PAIRS[(p % 100) as usize]);
    let word = u64::from(b'.') | pair(micros / 10_000) << 8 | pair(micros / 100) << 24 | pair(micros) << 40;
    out.extend_from_slice(&(word | u64::from(end) << 56).to_le_bytes());
}

#[cfg(test)]
mod tests;
