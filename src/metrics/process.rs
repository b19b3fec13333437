//! The process figures every Prometheus client exports under the standard
//! `process_*` names, read from `/proc` at scrape time (never per request).

use std::fs;

/// What one scrape read; a figure that could not be read is `None`.
#[derive(Debug, Default)]
pub struct ProcessStats {
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub start_time_seconds: Option<f64>,
}

impl ProcessStats {
    pub fn read() -> ProcessStats {
        let mut s = ProcessStats {
            open_fds: fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as u64),
            max_fds: max_fds(),
            ..ProcessStats::default()
        };
        if let Ok(stat) = fs::read_to_string("/proc/self/stat") {
            s.read_stat(&stat);
        }
        s
    }

    /// Fields of `/proc/self/stat` (proc(5)), counted after the `(comm)`
    /// field, which may itself contain spaces and parentheses.
    fn read_stat(&mut self, stat: &str) {
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { return };
        // rest[0] is field 3 (state); field n is rest[n - 3].
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        let tick = clock_ticks();
        let page = page_size();
        if let (Some(ut), Some(st)) = (num(14), num(15)) {
            self.cpu_seconds = Some((ut + st) as f64 / tick);
        }
        self.virtual_bytes = num(23);
        self.resident_bytes = num(24).map(|pages| pages * page);
        if let (Some(start), Some(boot)) = (num(22), boot_time()) {
            self.start_time_seconds = Some(boot as f64 + start as f64 / tick);
        }
    }
}

fn max_fds() -> Option<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0).then_some(lim.rlim_cur)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// Boot time in seconds since the epoch (`btime` in /proc/stat).
fn boot_time() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    stat.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let s = ProcessStats::read();
        assert!(s.open_fds.unwrap() >= 3);
        assert!(s.max_fds.unwrap() >= s.open_fds.unwrap());
        assert!(s.resident_bytes.unwrap() > 1 << 20, "a test binary is more than 1 MiB resident");
        assert!(s.virtual_bytes.unwrap() >= s.resident_bytes.unwrap());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        let start = s.start_time_seconds.unwrap();
        assert!(start <= now + 1.0 && start > now - 86_400.0 * 365.0, "{start} vs {now}");
    }

    #[test]
    fn a_command_name_with_spaces_and_parens_does_not_shift_fields() {
        let mut s = ProcessStats::default();
        let mut fields = vec!["0"; 50];
        fields[0] = "S";
        fields[14 - 3] = "100";
        fields[15 - 3] = "50";
        fields[24 - 3] = "10";
        let stat = format!("42 (evil) (name) {}", fields.join(" "));
        s.read_stat(&stat);
        assert_eq!(s.resident_bytes, Some(10 * page_size()));
        assert_eq!(s.cpu_seconds, Some(150.0 / clock_ticks()));
    }
}
