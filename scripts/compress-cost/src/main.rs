//! CPU per byte and bytes saved, per file, for gzip as loophttp compresses
//! on the fly (flate2, `Compression::fast()`) against zstd at levels 1 and 3,
//! on the files named on the command line (each compressed on its own, as a
//! response is). CPU time of this thread (`CLOCK_THREAD_CPUTIME_ID`), so
//! other load on the machine costs wall time, not the figures; each file is
//! compressed `ROUNDS` times and the fastest round kept.

use std::io::Write;
use std::time::Duration;

const ROUNDS: usize = 5;

fn cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the kernel to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn gzip_fast(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2 + 32), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn main() {
    let files: Vec<Vec<u8>> = std::env::args().skip(1).filter_map(|p| std::fs::read(p).ok()).collect();
    let input: usize = files.iter().map(Vec::len).sum();
    println!("{} files, {} bytes, median {} bytes", files.len(), input, {
        let mut sizes: Vec<usize> = files.iter().map(Vec::len).collect();
        sizes.sort();
        sizes.get(sizes.len() / 2).copied().unwrap_or(0)
    });
    let coders: [(&str, Box<dyn Fn(&[u8]) -> Vec<u8>>); 4] = [
        ("gzip fast (flate2, loophttp's)", Box::new(gzip_fast)),
        ("zstd 1", Box::new(|d: &[u8]| zstd::bulk::compress(d, 1).unwrap())),
        ("zstd 3 (its default)", Box::new(|d: &[u8]| zstd::bulk::compress(d, 3).unwrap())),
        ("gzip 6 (zlib's default)", Box::new(|d: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(d).unwrap();
            e.finish().unwrap()
        })),
    ];
    println!("{:<32} {:>12} {:>10} {:>12} {:>14}", "coder", "output", "ratio", "ns/byte in", "MB/s (CPU)");
    for (name, coder) in &coders {
        let (mut out, mut cpu) = (0usize, Duration::ZERO);
        for f in &files {
            let mut best = Duration::MAX;
            let mut size = 0;
            for _ in 0..ROUNDS {
                let t = cpu_now();
                size = std::hint::black_box(coder(std::hint::black_box(f))).len();
                best = best.min(cpu_now() - t);
            }
            out += size;
            cpu += best;
        }
        let ns_per_byte = cpu.as_nanos() as f64 / input as f64;
        println!(
            "{:<32} {:>12} {:>10.3} {:>12.2} {:>14.0}",
            name,
            out,
            out as f64 / input as f64,
            ns_per_byte,
            1e3 / ns_per_byte
        );
    }
}
