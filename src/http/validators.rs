//! What a file response says about the file: its validators (`ETag`,
//! `Last-Modified`) and the range it carries (`Content-Range`).

use std::time::SystemTime;

/// Validators of a file representation (RFC 9110 §8.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validators {
    pub etag: ETag,
    pub modified: SystemTime,
}

/// A strong entity tag from size and modification time (in nanoseconds),
/// as nginx makes it, but never the inode, which says something about the
/// server's disk and nothing the client needs. A replacing upload always
/// moves the modification time forward (`Upload::commit`), so a file
/// replaced within one clock tick still gets a new tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ETag {
    pub size: u64,
    pub mtime_nanos: u128,
}

impl std::fmt::Display for ETag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{:x}-{:x}\"", self.size, self.mtime_nanos)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes first-last/total` for a 206.
    Bytes { first: u64, last: u64, total: u64 },
    /// `bytes */total` for a 416.
    Unsatisfied { total: u64 },
}
