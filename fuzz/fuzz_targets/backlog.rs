//! The backlog extractor, validator and ordering on any agent reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orx_core::pipeline::backlog;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(items) = backlog::extract(&text)
        && backlog::validate(&items).is_ok()
    {
        let _ = backlog::topo_order(&items);
    }
});
