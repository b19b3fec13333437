//! Pure request-body decoders for the two framings that carry bytes:
//! `Content-Length` and `Transfer-Encoding: chunked` (RFC 9112 §7.1).
//!
//! `decode` takes whatever bytes have arrived and returns how many it used
//! and the body data among them; "need more" is simply a call that used
//! everything. The chunked framing is checked byte by byte against the
//! grammar, with no lenient corners: a proxy in front that reads a sloppy
//! chunk line differently from us would desynchronise (the "chunk
//! extension" smuggling family), so anything outside it is a 400.
//!
//! ```text
//! chunk-line = chunk-size [ chunk-ext ] CRLF                     (§7.1)
//! chunk-ext  = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
//! trailer    = *( name ":" OWS value OWS CRLF ) CRLF              (§7.1.2, §5)
//! ```
//!
//! Extensions are checked and ignored, trailers checked and dropped.

use crate::error::HttpError;

/// Longest chunk-size line we accept (size, extensions, CRLF): a client
/// cannot make us read an endless extension.
pub const MAX_CHUNK_LINE: usize = 4096;
/// Longest trailer section (all its lines) we read and drop.
pub const MAX_TRAILERS: usize = 16 * 1024;

const BAD_SIZE: HttpError = HttpError::BadRequest("invalid chunk size");
const BAD_EXT: HttpError = HttpError::BadRequest("invalid chunk extension");
const BAD_LINE_END: HttpError = HttpError::BadRequest("chunk line not ended by CRLF");
const BAD_DATA_END: HttpError = HttpError::BadRequest("chunk data not followed by CRLF");
const BAD_TRAILER: HttpError = HttpError::BadRequest("invalid trailer field");
const LONG_LINE: HttpError = HttpError::BadRequest("chunk line too long");
const LONG_TRAILERS: HttpError = HttpError::BadRequest("trailer section too long");

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

/// Where the chunked decoder is. The `Ext*` states walk the extension
/// grammar; `BWS` is optional whitespace (SP / HTAB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Hex digits of the chunk size.
    Size,
    /// Whitespace after the size or after a value: only more of it or `;`
    /// may follow (trailing whitespace before CRLF is outside the grammar).
    ExtBws,
    /// After `;`: whitespace, then the first byte of a name.
    ExtNameStart,
    /// Inside a name: it may end the line, start a value or another extension.
    ExtName,
    /// Whitespace after a name: `=` or `;` must follow.
    ExtNameBws,
    /// After `=`: whitespace, then a token or a quoted string.
    ExtValueStart,
    /// Inside a token value.
    ExtToken,
    /// Inside a quoted-string value.
    ExtQuoted,
    /// After a backslash in a quoted string.
    ExtQuotedPair,
    /// After the closing quote.
    ExtQuoteEnd,
    /// The LF of the size line.
    SizeLf,
    /// Chunk payload; `size` bytes left.
    Data,
    DataCr,
    DataLf,
    /// Start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field name.
    TrailerName,
    /// Inside a trailer field value (after the colon).
    TrailerValue,
    /// LF ending a trailer line.
    TrailerLf,
    /// LF of the final empty line.
    EndLf,
    Done,
}

impl ChunkState {
    /// States inside a chunk-size line, whose length is bounded.
    fn in_size_line(self) -> bool {
        use ChunkState::*;
        matches!(
            self,
            Size | ExtBws
                | ExtNameStart
                | ExtName
                | ExtNameBws
                | ExtValueStart
                | ExtToken
                | ExtQuoted
                | ExtQuotedPair
                | ExtQuoteEnd
                | SizeLf
        )
    }

    fn in_trailers(self) -> bool {
        use ChunkState::*;
        matches!(self, TrailerStart | TrailerName | TrailerValue | TrailerLf | EndLf)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunked {
    state: ChunkState,
    size: u64,
    digits: u32,
    /// Bytes of the current size line, or of the trailer section so far.
    line: usize,
}

/// `tchar` (RFC 9110 §5.6.2): the bytes of a token.
fn is_tchar(b: u8) -> bool {
    super::byte_classes::TCHAR[usize::from(b)]
}

/// Whitespace allowed where the grammar says `BWS` / `OWS`.
fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `qdtext` (RFC 9110 §5.6.4): anything but CTLs, `"` and `\` (obs-text included).
fn is_qdtext(b: u8) -> bool {
    is_ws(b) || b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b) || b >= 0x80
}

/// A byte of a field value (RFC 9110 §5.5): visible, whitespace or obs-text.
fn is_field_byte(b: u8) -> bool {
    is_ws(b) || (0x21..=0x7e).contains(&b) || b >= 0x80
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

    /// Advances the framing state machine by one byte outside chunk data.
    /// Line endings must be CRLF: a lone LF or CR is exactly what
    /// smuggling relies on.
    fn byte(&mut self, b: u8) -> Result<(), HttpError> {
        use ChunkState::*;
        if self.state.in_size_line() {
            self.count_line(MAX_CHUNK_LINE, LONG_LINE)?;
        } else if self.state.in_trailers() {
            self.count_line(MAX_TRAILERS, LONG_TRAILERS)?;
        }
        self.state = match self.state {
            Size => self.size_byte(b)?,
            SizeLf if b == b'\n' => {
                self.line = 0;
                self.digits = 0;
                if self.size == 0 { TrailerStart } else { Data }
            }
            SizeLf => return Err(BAD_LINE_END),
            DataCr if b == b'\r' => DataLf,
            DataLf if b == b'\n' => Size,
            DataCr | DataLf => return Err(BAD_DATA_END),
            Data | Done => unreachable!("handled by decode"),
            s if s.in_trailers() => trailer_byte(s, b)?,
            s => ext_byte(s, b)?,
        };
        Ok(())
    }

    /// A byte of the chunk size, or the one that ends it.
    fn size_byte(&mut self, b: u8) -> Result<ChunkState, HttpError> {
        if let Some(d) = (b as char).to_digit(16) {
            self.digits += 1;
            self.size = self.size.checked_mul(16).and_then(|s| s.checked_add(u64::from(d))).ok_or(BAD_SIZE)?;
            return Ok(ChunkState::Size);
        }
        if self.digits == 0 {
            return Err(BAD_SIZE);
        }
        match b {
            b'\r' => Ok(ChunkState::SizeLf),
            b';' => Ok(ChunkState::ExtNameStart),
            b if is_ws(b) => Ok(ChunkState::ExtBws),
            _ => Err(BAD_SIZE),
        }
    }

    fn count_line(&mut self, max: usize, err: HttpError) -> Result<(), HttpError> {
        self.line += 1;
        if self.line > max { Err(err) } else { Ok(()) }
    }
}

/// One byte of a chunk extension (after the size, before CR).
fn ext_byte(state: ChunkState, b: u8) -> Result<ChunkState, HttpError> {
    use ChunkState::*;
    Ok(match (state, b) {
        (ExtBws | ExtNameBws | ExtValueStart | ExtNameStart, b) if is_ws(b) => state,
        (ExtToken | ExtQuoteEnd, b) if is_ws(b) => ExtBws,
        (ExtName, b) if is_ws(b) => ExtNameBws,
        (ExtBws | ExtName | ExtNameBws | ExtToken | ExtQuoteEnd, b';') => ExtNameStart,
        (ExtNameStart | ExtName, b) if is_tchar(b) => ExtName,
        (ExtName | ExtNameBws, b'=') => ExtValueStart,
        (ExtValueStart | ExtToken, b) if is_tchar(b) => ExtToken,
        (ExtValueStart, b'"') => ExtQuoted,
        (ExtQuoted, b'"') => ExtQuoteEnd,
        (ExtQuoted, b'\\') => ExtQuotedPair,
        (ExtQuoted, b) if is_qdtext(b) => ExtQuoted,
        // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        (ExtQuotedPair, b) if is_field_byte(b) => ExtQuoted,
        (ExtName | ExtToken | ExtQuoteEnd, b'\r') => SizeLf,
        _ => return Err(BAD_EXT),
    })
}

/// One byte of the trailer section: field lines as in a head (a token
/// name, a colon right after it, a value without control bytes, no
/// obs-fold), each ended by CRLF, then an empty line.
fn trailer_byte(state: ChunkState, b: u8) -> Result<ChunkState, HttpError> {
    use ChunkState::*;
    Ok(match (state, b) {
        (TrailerStart, b'\r') => EndLf,
        (TrailerStart | TrailerName, b) if is_tchar(b) => TrailerName,
        (TrailerName, b':') => TrailerValue,
        (TrailerValue, b'\r') => TrailerLf,
        (TrailerValue, b) if is_field_byte(b) => TrailerValue,
        (TrailerLf, b'\n') => TrailerStart,
        (EndLf, b'\n') => Done,
        _ => return Err(BAD_TRAILER),
    })
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
