//! The loop's buffer pool: idle connections hold no buffers, busy ones
//! allocate none per request.

/// Spare buffers kept per pool; more are freed.
const POOL_SPARE: usize = 256;
/// Output buffers that grew beyond this are freed rather than pooled.
const OUT_KEEP_MAX: usize = 128 * 1024;
/// Minimum read-buffer size; it is also at least the head limit.
const READ_BUF_MIN: usize = 16 * 1024;

/// Buffers handed to busy connections and taken back when they go idle, so
/// idle connections hold none and busy ones allocate none per request.
#[derive(Debug)]
pub struct BufPool {
    inputs: Vec<Vec<u8>>,
    outputs: Vec<Vec<u8>>,
    input_size: usize,
}

impl BufPool {
    pub fn new(max_head: usize) -> BufPool {
        // One byte more than the head limit, so a head at the limit plus one
        // byte is seen (and refused) rather than filling the buffer.
        let input_size = READ_BUF_MIN.max(max_head + 1);
        BufPool { inputs: Vec::new(), outputs: Vec::new(), input_size }
    }

    /// A zero-initialised input buffer whose `len()` is its usable size.
    pub fn take_input(&mut self) -> Vec<u8> {
        self.inputs.pop().unwrap_or_else(|| vec![0; self.input_size])
    }

    pub fn put_input(&mut self, buf: Vec<u8>) {
        if self.inputs.len() < POOL_SPARE && buf.len() == self.input_size {
            self.inputs.push(buf);
        }
    }

    /// Spare (input, output) buffers held: for tests of buffer reuse.
    #[cfg(test)]
    pub fn spare(&self) -> (usize, usize) {
        (self.inputs.len(), self.outputs.len())
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        self.outputs.pop().unwrap_or_else(|| Vec::with_capacity(4096))
    }

    pub fn put_output(&mut self, mut buf: Vec<u8>) {
        if self.outputs.len() < POOL_SPARE && buf.capacity() <= OUT_KEEP_MAX {
            buf.clear();
            self.outputs.push(buf);
        }
    }
}
