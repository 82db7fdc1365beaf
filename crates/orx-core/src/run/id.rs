//! Run ids: `YYYYMMDD_HHMMSS_<8 hex>` in UTC, sortable and unique within a second.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// A run id string.
pub type RunId = String;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new run id. The suffix mixes a per-process random seed, the pid, the time in
/// nanoseconds and a counter, so ids made in the same second by any process differ.
pub fn new_run_id() -> RunId {
    let now = jiff::Timestamp::now();
    let stamp = now.strftime("%Y%m%d_%H%M%S");
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(now.as_nanosecond() as u128);
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{stamp}_{:08x}", h.finish() as u32)
}

/// True when `s` is shaped like a run id (also guards paths built from user input).
pub fn is_valid_run_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'_'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'_'
        && b[16..].iter().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_well_formed_and_unique() {
        let ids: std::collections::BTreeSet<_> = (0..1000).map(|_| new_run_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(3) {
            assert!(is_valid_run_id(id), "{id}");
        }
        assert!(!is_valid_run_id("../../etc/passwd"));
    }
}
