//! The loop's buffer pool: idle connections hold no buffers, busy ones
//! allocate none per request.

/// Spare buffers kept per pool, besides the two in its hand; more are freed.
const POOL_SPARE: usize = 256;
/// Output buffers that grew beyond this are freed rather than pooled.
const OUT_KEEP_MAX: usize = 128 * 1024;
/// Minimum read-buffer size; it is also at least the head limit.
const READ_BUF_MIN: usize = 16 * 1024;

/// Buffers handed to busy connections and taken back when they go idle, so
/// idle connections hold none and busy ones allocate none per request.
///
/// The input and output buffer given back last are held in hand (`hand_*`,
/// empty when none) and handed out first; the stacks take the rest. At
/// keep-alive depth 1 every request gives both back as its connection goes
/// idle, and the next request (of any connection) takes both again, so the
/// usual trip is a move into a slot and out of it, without the stacks'
/// length and capacity checks (callgrind: docs/PERFORMANCE.md).
#[derive(Debug)]
pub struct BufPool {
    /// An input buffer (`input_size` long) or none (empty).
    hand_input: Vec<u8>,
    /// An empty output buffer with room (`capacity() > 0`) or none.
    hand_output: Vec<u8>,
    inputs: Vec<Vec<u8>>,
    outputs: Vec<Vec<u8>>,
    input_size: usize,
}

impl BufPool {
    pub fn new(max_head: usize) -> BufPool {
        // One byte more than the head limit, so a head at the limit plus one
        // byte is seen (and refused) rather than filling the buffer.
        let input_size = READ_BUF_MIN.max(max_head + 1);
        BufPool { hand_input: Vec::new(), hand_output: Vec::new(), inputs: Vec::new(), outputs: Vec::new(), input_size }
    }

    /// A zero-initialised input buffer whose `len()` is its usable size.
    #[inline]
    pub fn take_input(&mut self) -> Vec<u8> {
        if !self.hand_input.is_empty() {
            return std::mem::take(&mut self.hand_input);
        }
        self.inputs.pop().unwrap_or_else(|| vec![0; self.input_size])
    }

    #[inline]
    pub fn put_input(&mut self, buf: Vec<u8>) {
        if buf.len() != self.input_size {
            return;
        }
        if self.hand_input.is_empty() {
            self.hand_input = buf;
        } else if self.inputs.len() < POOL_SPARE {
            self.inputs.push(buf);
        }
    }

    /// Spare (input, output) buffers held: for tests of buffer reuse.
    #[cfg(test)]
    pub fn spare(&self) -> (usize, usize) {
        let hand = |b: &Vec<u8>| usize::from(b.capacity() > 0);
        (hand(&self.hand_input) + self.inputs.len(), hand(&self.hand_output) + self.outputs.len())
    }

    #[inline]
    pub fn take_output(&mut self) -> Vec<u8> {
        if self.hand_output.capacity() > 0 {
            return std::mem::take(&mut self.hand_output);
        }
        self.outputs.pop().unwrap_or_else(|| Vec::with_capacity(4096))
    }

    #[inline]
    pub fn put_output(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() > OUT_KEEP_MAX {
            return;
        }
        buf.clear();
        if self.hand_output.capacity() == 0 {
            self.hand_output = buf;
        } else if self.outputs.len() < POOL_SPARE {
            self.outputs.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_the_next_one_handed_out() {
        let mut pool = BufPool::new(100);
        let (input, output) = (pool.take_input(), pool.take_output());
        let (ip, op) = (input.as_ptr(), output.as_ptr());
        pool.put_input(input);
        pool.put_output(output);
        assert_eq!(pool.spare(), (1, 1));
        let (input, output) = (pool.take_input(), pool.take_output());
        assert_eq!((input.as_ptr(), output.as_ptr()), (ip, op));
        assert_eq!(pool.spare(), (0, 0));
    }

    #[test]
    fn beyond_the_hand_buffers_stack_up_to_the_spare_limit_and_come_back_newest_first() {
        let mut pool = BufPool::new(100);
        let inputs: Vec<Vec<u8>> = (0..POOL_SPARE + 3).map(|_| pool.take_input()).collect();
        let outputs: Vec<Vec<u8>> = (0..POOL_SPARE + 3).map(|_| pool.take_output()).collect();
        // The first given back goes to the hand, the next POOL_SPARE to the
        // stacks, and the last two are freed.
        let (first, newest) =
            ((inputs[0].as_ptr(), outputs[0].as_ptr()), (inputs[POOL_SPARE].as_ptr(), outputs[POOL_SPARE].as_ptr()));
        inputs.into_iter().for_each(|b| pool.put_input(b));
        outputs.into_iter().for_each(|b| pool.put_output(b));
        assert_eq!(pool.spare(), (POOL_SPARE + 1, POOL_SPARE + 1));
        let input = pool.take_input();
        assert_eq!((input.as_ptr(), input.len()), (first.0, READ_BUF_MIN), "the hand's, at its usable size");
        let output = pool.take_output();
        assert_eq!(output.as_ptr(), first.1);
        // Then the stacks, newest first.
        let (input, output) = (pool.take_input(), pool.take_output());
        assert_eq!((input.as_ptr(), output.as_ptr()), newest);
        assert_eq!(pool.spare(), (POOL_SPARE - 1, POOL_SPARE - 1));
    }

    #[test]
    fn outsized_buffers_are_freed_not_kept() {
        let mut pool = BufPool::new(100);
        let mut input = pool.take_input();
        assert!(input.iter().all(|&b| b == 0), "a new input buffer is zeroed");
        input.truncate(10);
        pool.put_input(input);
        pool.put_output(Vec::with_capacity(OUT_KEEP_MAX + 1));
        assert_eq!(pool.spare(), (0, 0));
        let mut out = pool.take_output();
        out.extend_from_slice(b"response");
        pool.put_output(out);
        assert!(pool.take_output().is_empty(), "an output buffer comes back cleared");
    }
}
