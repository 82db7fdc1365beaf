//! Every agent stream parser: the first byte picks the format, the rest is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orx_core::agent::cli::parser_for;
use orx_core::config::ExecutorKind;

const KINDS: [ExecutorKind; 5] = [
    ExecutorKind::Codex,
    ExecutorKind::Claude,
    ExecutorKind::Gemini,
    ExecutorKind::Copilot,
    ExecutorKind::Cursor,
];

fuzz_target!(|data: &[u8]| {
    let Some((first, stream)) = data.split_first() else {
        return;
    };
    let mut p = parser_for(KINDS[usize::from(*first) % KINDS.len()]);
    for line in String::from_utf8_lossy(stream).lines() {
        p.line(line);
    }
    let _ = p.finish();
});
