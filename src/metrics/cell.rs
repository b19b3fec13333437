//! Counters a loop owns and anyone may read: relaxed atomics written by
//! exactly one thread, so an increment is a plain load and store (no
//! locked read-modify-write on the hot path), and a scrape from another
//! thread reads a value that was true a moment ago.

use std::sync::atomic::{AtomicU64, Ordering};

/// A counter (or gauge) with a single writer: its loop.
#[derive(Debug, Default)]
pub struct Cell(AtomicU64);

impl Cell {
    /// Only the owning loop calls this (one writer: no update is lost).
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Only the owning loop calls this.
    #[inline]
    pub fn sub(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).saturating_sub(n), Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds of the request-duration buckets, in microseconds
/// (100 µs to 10 s: loopback answers take tens of µs, a slow upload seconds).
pub const DURATION_BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// A histogram with fixed bounds: one cell per bucket (not cumulative;
/// the scrape adds them up), the sum and the count.
#[derive(Debug)]
pub struct Histogram<const N: usize> {
    bounds: &'static [u64; N],
    /// `buckets[i]` counts values in `(bounds[i-1], bounds[i]]`; the last
    /// one (`N`) those above every bound (`+Inf`).
    buckets: [Cell; 17],
    sum: Cell,
}

impl<const N: usize> Histogram<N> {
    pub const fn new(bounds: &'static [u64; N]) -> Histogram<N> {
        assert!(N < 17);
        Histogram { bounds, buckets: [const { Cell(AtomicU64::new(0)) }; 17], sum: Cell(AtomicU64::new(0)) }
    }

    #[inline]
    pub fn observe(&self, value: u64) {
        self.observe_n(value, 1);
    }

    /// `n` observations of `value`.
    #[inline]
    pub fn observe_n(&self, value: u64, n: u64) {
        // From the lowest bound up: most values fall in the first buckets
        // (a loopback answer takes tens of µs), where a binary search would
        // still take four steps.
        let i = self.bounds.iter().position(|&b| value <= b).unwrap_or(N);
        self.buckets[i].add(n);
        self.sum.add(value.saturating_mul(n));
    }

    /// `(upper bound, count in that bucket alone)` with `+Inf` last (the
    /// encoder makes them cumulative), the sum and the count, each bound and the sum divided by `unit` (a
    /// correctly rounded division, so 100 µs / 1e6 prints as `0.0001`).
    pub fn snapshot(&self, unit: f64) -> (Vec<(f64, u64)>, f64, u64) {
        let mut out = Vec::with_capacity(N + 1);
        let mut total = 0;
        for (i, bucket) in self.buckets.iter().enumerate().take(N + 1) {
            let n = bucket.get();
            total += n;
            let bound = self.bounds.get(i).map_or(f64::INFINITY, |&b| b as f64 / unit);
            out.push((bound, n));
        }
        (out, self.sum.get() as f64 / unit, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_count() {
        let c = Cell::default();
        c.inc();
        c.add(4);
        c.sub(2);
        assert_eq!(c.get(), 3);
        c.sub(10);
        assert_eq!(c.get(), 0, "a gauge never wraps below zero");
    }

    #[test]
    fn histogram_buckets_have_inclusive_upper_bounds() {
        static B: [u64; 3] = [10, 100, 1000];
        let h = Histogram::new(&B);
        for v in [0, 10, 11, 100, 5000] {
            h.observe(v);
        }
        let (buckets, sum, count) = h.snapshot(1.0);
        assert_eq!(buckets, vec![(10.0, 2), (100.0, 2), (1000.0, 0), (f64::INFINITY, 1)]);
        assert_eq!((sum, count), (5121.0, 5));
        let (scaled, sum, _) = h.snapshot(1e6);
        assert_eq!(scaled[0].0.to_string(), "0.00001");
        assert!((sum - 5121e-6).abs() < 1e-12);
    }
}
