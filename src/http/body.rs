//! Pure request-body decoders for the two framings that carry bytes:
//! `Content-Length` and `Transfer-Encoding: chunked` (RFC 9112 §7.1).
//!
//! `decode` takes whatever bytes have arrived and returns how many it used
//! and the body data among them; "need more" is simply a call that used
//! everything. Chunk extensions are skipped, trailers read and dropped.

use crate::error::HttpError;

/// Longest chunk-size line we accept (size, extensions): a client cannot
/// make us buffer an endless extension.
const MAX_CHUNK_LINE: usize = 4096;
/// Longest trailer section we read and drop.
const MAX_TRAILERS: usize = 16 * 1024;

const BAD_CHUNK: HttpError = HttpError::BadRequest("invalid chunked encoding");

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyDecoder {
    /// Bytes still to come of a `Content-Length` body.
    Length(u64),
    Chunked(Chunked),
}

/// One step of decoding: `used` bytes of the input were consumed, and
/// `data` (a sub-slice of them) is body payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Step<'a> {
    pub used: usize,
    pub data: &'a [u8],
}

impl BodyDecoder {
    pub fn chunked() -> BodyDecoder {
        BodyDecoder::Chunked(Chunked { state: ChunkState::Size, size: 0, digits: 0, line: 0 })
    }

    /// True once the whole body (and for chunked, the trailers) is in.
    pub fn is_done(&self) -> bool {
        match self {
            BodyDecoder::Length(left) => *left == 0,
            BodyDecoder::Chunked(c) => c.state == ChunkState::Done,
        }
    }

    /// Consumes from `input` until a piece of body data is found, the body
    /// ends, or the input runs out. Call again with the rest.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Step<'a>, HttpError> {
        match self {
            BodyDecoder::Length(left) => {
                let n = input.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= n as u64;
                Ok(Step { used: n, data: &input[..n] })
            }
            BodyDecoder::Chunked(c) => c.decode(input),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Hex digits of the chunk size.
    Size,
    /// Whitespace or `;extension` after the size, up to CR.
    Ext,
    /// The LF of the size line.
    SizeLf,
    /// Chunk payload; `size` bytes left.
    Data,
    DataCr,
    DataLf,
    /// Start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// LF ending a trailer line.
    TrailerLf,
    /// LF of the final empty line.
    EndLf,
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunked {
    state: ChunkState,
    size: u64,
    digits: u32,
    /// Bytes of the current size line, or of all trailers so far.
    line: usize,
}

impl Chunked {
    fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Step<'a>, HttpError> {
        let mut i = 0;
        while i < input.len() {
            if self.state == ChunkState::Data {
                let n = (input.len() - i).min(usize::try_from(self.size).unwrap_or(usize::MAX));
                self.size -= n as u64;
                if self.size == 0 {
                    self.state = ChunkState::DataCr;
                }
                return Ok(Step { used: i + n, data: &input[i..i + n] });
            }
            if self.state == ChunkState::Done {
                break;
            }
            self.byte(input[i])?;
            i += 1;
        }
        Ok(Step { used: i, data: &[] })
    }

    /// Advances the framing state machine by one control byte. Line endings
    /// must be CRLF: a lone LF or CR is exactly what smuggling relies on.
    fn byte(&mut self, b: u8) -> Result<(), HttpError> {
        use ChunkState::*;
        self.state = match (self.state, b) {
            (Size, b) if b.is_ascii_hexdigit() => {
                self.digits += 1;
                let d = u64::from((b as char).to_digit(16).unwrap_or(0));
                self.size = self.size.checked_mul(16).and_then(|s| s.checked_add(d)).ok_or(BAD_CHUNK)?;
                self.count_line(MAX_CHUNK_LINE)?;
                Size
            }
            (Size, b';' | b' ' | b'\t') if self.digits > 0 => {
                self.count_line(MAX_CHUNK_LINE)?;
                Ext
            }
            (Size, b'\r') if self.digits > 0 => SizeLf,
            (Ext, b'\r') => SizeLf,
            (Ext, b'\n') => return Err(BAD_CHUNK),
            (Ext, _) => {
                self.count_line(MAX_CHUNK_LINE)?;
                Ext
            }
            (SizeLf, b'\n') => {
                self.line = 0;
                self.digits = 0;
                if self.size == 0 { TrailerStart } else { Data }
            }
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => Size,
            (TrailerStart, b'\r') => EndLf,
            (TrailerStart | Trailer, b'\n') => return Err(BAD_CHUNK),
            (Trailer, b'\r') => TrailerLf,
            (TrailerStart | Trailer, _) => {
                self.count_line(MAX_TRAILERS)?;
                Trailer
            }
            (TrailerLf, b'\n') => TrailerStart,
            (EndLf, b'\n') => Done,
            _ => return Err(BAD_CHUNK),
        };
        Ok(())
    }

    fn count_line(&mut self, max: usize) -> Result<(), HttpError> {
        self.line += 1;
        if self.line > max { Err(BAD_CHUNK) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes; returns the body.
    fn decode_in_steps(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), HttpError> {
        let mut d = BodyDecoder::chunked();
        let mut body = Vec::new();
        let mut pos = 0;
        let mut fed = 0;
        while !d.is_done() && fed < input.len() {
            fed = (fed + step).min(input.len());
            while pos < fed && !d.is_done() {
                let s = d.decode(&input[pos..fed])?;
                body.extend_from_slice(s.data);
                pos += s.used;
                if s.used == 0 {
                    break;
                }
            }
        }
        assert!(d.is_done(), "decoder not done after all input");
        Ok((body, pos))
    }

    #[test]
    fn chunked_body_decodes_whole_and_byte_at_a_time() {
        let wire = b"5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\nNEXT";
        for step in [wire.len(), 1, 2, 3, 7] {
            let (body, used) = decode_in_steps(wire, step).unwrap();
            assert_eq!(body, b"hello, world", "step {step}");
            assert_eq!(&wire[used..], b"NEXT", "step {step}");
        }
    }

    #[test]
    fn empty_chunked_body_and_uppercase_hex() {
        assert_eq!(decode_in_steps(b"0\r\n\r\n", 1).unwrap().0, b"");
        let wire = b"A\r\n0123456789\r\n0\r\n\r\n";
        assert_eq!(decode_in_steps(wire, 1).unwrap().0, b"0123456789");
    }

    #[test]
    fn chunked_rejects_malformed_framing() {
        let bad: &[&[u8]] = &[
            b"\r\n",                  // no size
            b"g\r\n",                 // not hex
            b"5\nhello\r\n0\r\n\r\n", // bare LF after size
            b"5\r\nhelloX\r\n",       // data not followed by CRLF
            b"5\r\nhello\n0\r\n\r\n", // bare LF after data
            b"10000000000000000\r\n", // overflows u64
            b"-1\r\n",                // negative
            b"0\r\nTrailer: x\n\r\n", // bare LF in trailer
        ];
        for wire in bad {
            let mut d = BodyDecoder::chunked();
            let mut rest: &[u8] = wire;
            let err = loop {
                match d.decode(rest) {
                    Err(e) => break Some(e),
                    Ok(s) if s.used == 0 => break None,
                    Ok(s) => rest = &rest[s.used..],
                }
            };
            assert_eq!(err, Some(BAD_CHUNK), "{:?}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn endless_chunk_extension_is_refused() {
        let mut wire = b"1;".to_vec();
        wire.resize(MAX_CHUNK_LINE + 10, b'x');
        assert_eq!(BodyDecoder::chunked().decode(&wire), Err(BAD_CHUNK));
    }

    #[test]
    fn length_body_stops_at_its_length() {
        let mut d = BodyDecoder::Length(3);
        let s = d.decode(b"abcdef").unwrap();
        assert_eq!((s.used, s.data), (3, &b"abc"[..]));
        assert!(d.is_done());
    }
}
