//! The config loader: any bytes as orx.yaml give a config or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = orx_core::config::load_str(&text, "orx.yaml", Default::default());
});
