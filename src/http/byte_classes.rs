//! Byte classes as tables of 256 flags, built at compile time: one load
//! per byte where a header name or a host is checked.

/// `tchar` (RFC 9110 §5.6.2), the bytes of a token (a header name, a
/// chunk extension): a table, since header names are read on every request.
pub(super) const TCHAR: [bool; 256] = alnum_or(b"!#$%&'*+-.^_`|~");

/// A byte-class table: ASCII letters and digits, and the bytes of `extra`.
pub(super) const fn alnum_or(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}
