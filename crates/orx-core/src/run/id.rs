//! Run ids: `YYYYMMDD_HHMMSS_<8 hex>` in UTC, sortable and unique within a second.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// A run id string.
pub type RunId = String;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new run id. Three hex digits of milliseconds keep ids made within one second in creation
/// order; five more come from a per-process random seed plus a counter, so ids made by one
/// process never repeat and ids of different processes almost never do (the run folder is
/// created exclusively, so a collision is an error, never a shared folder).
pub fn new_run_id() -> RunId {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_u128(jiff::Timestamp::now().as_nanosecond() as u128);
        h.finish()
    });
    let now = jiff::Timestamp::now();
    let stamp = now.strftime("%Y%m%d_%H%M%S");
    let millis = now.as_millisecond().rem_euclid(1000) as u64;
    let n = seed.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed)) & 0xf_ffff;
    format!("{stamp}_{millis:03x}{n:05x}")
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
