//! Where the lines of a request head end. RFC 9112 §2.2 lets a recipient
//! take a lone LF for a line end; loophttp does not (docs/CONFORMANCE.md
//! says why), but httparse does, so the parser checks what it found.

/// True if some LF in `bytes` has no CR right before it: every byte looked
/// at, for heads still arriving or refused (a complete head is checked by
/// [`lines_end_in_crlf`]).
pub(super) fn has_bare_lf(bytes: &[u8]) -> bool {
    let Some((&first, rest)) = bytes.split_first() else { return false };
    first == b'\n'
        || rest.iter().zip(bytes).fold(false, |seen, (&b, &before)| seen | ((b == b'\n') & (before != b'\r')))
}

/// True if every line of a head httparse found complete ends in CRLF,
/// checked where its lines end rather than byte by byte (this runs for
/// every request): the empty lines before the request line, the line
/// before each header (each name starts a line), and the head's last two.
pub(super) fn lines_end_in_crlf(req: &httparse::Request<'_, '_>, buf: &[u8], len: usize) -> bool {
    let offset = |s: &str| s.as_ptr() as usize - buf.as_ptr() as usize;
    let before_method = &buf[..req.method.map_or(0, offset)];
    before_method.chunks(2).all(|pair| pair == b"\r\n")
        && req.headers.iter().all(|h| buf[offset(h.name) - 2] == b'\r')
        && buf[..len].ends_with(b"\r\n\r\n")
}

/// The offset of the first LF without a CR before it, if one comes before
/// the head ends. The empty lines (CRLF) a head may start with are skipped.
pub(super) fn first_bare_lf(buf: &[u8]) -> Option<usize> {
    let mut start = 0;
    while buf[start..].starts_with(b"\r\n") {
        start += 2;
    }
    let mut from = start;
    while let Some(off) = buf[from..].iter().position(|&b| b == b'\n') {
        let at = from + off;
        if at == start || buf[at - 1] != b'\r' {
            return Some(at);
        }
        if at >= start + 3 && buf[at - 3..at] == *b"\r\n\r" {
            return None; // the head ended: what follows is not ours to judge
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick test for a bare LF agrees with the exact search on every
    /// head-like buffer built from the bytes that matter.
    #[test]
    fn the_quick_bare_lf_test_agrees_with_the_search() {
        let pieces: [&[u8]; 5] = [b"\r", b"\n", b"\r\n", b"a", b"\r\n\r\n"];
        for n in 0..5usize.pow(6) {
            let mut buf = Vec::new();
            let mut k = n;
            for _ in 0..6 {
                buf.extend_from_slice(pieces[k % 5]);
                k /= 5;
            }
            // Within a head (no CRLFCRLF past its leading empty lines) both agree.
            let start = buf.chunks(2).take_while(|c| *c == b"\r\n").count() * 2;
            if buf[start..].windows(4).any(|w| w == b"\r\n\r\n") {
                continue;
            }
            assert_eq!(has_bare_lf(&buf), first_bare_lf(&buf).is_some(), "{buf:?}");
        }
    }
}
