//! Seeded mutation fuzzing of everything that reads untrusted text: the config loader, the backlog
//! extractor and validator, and every agent stream parser. Inputs start from the real samples
//! (fixtures and the bad-input corpus) and are mutated (byte flips, insertions of structural
//! characters, deletions, duplications, truncations, invalid UTF-8). A panic fails the test with
//! the seed and the input saved under target/tmp/fuzz-crashes/.
//!
//! Bounded: `ORX_FUZZ_ITERS` inputs per target (default 3,000); `ORX_FUZZ_SEED` (default 1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use orx_core::agent::cli::parser_for;
use orx_core::config::{ExecutorKind, load_str};
use orx_core::pipeline::backlog;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: [&[u8]; 16] = [
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\n",
    b"- ",
    b"\t",
    b"  ",
    b"\xff\xfe",
    b"null",
    b"${X}",
    b"```yaml\n",
    b"\xe2\x80\xae",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            2 if !v.is_empty() => {
                let end = (at + rng.below(32)).min(v.len());
                v.drain(at.min(end)..end);
            }
            3 if !v.is_empty() => {
                let start = rng.below(v.len());
                let end = (start + rng.below(64)).min(v.len());
                let chunk = v[start..end].to_vec();
                v.splice(at..at, chunk);
            }
            4 => v.truncate(at),
            _ => v.insert(at, rng.next() as u8),
        }
    }
    v
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn iterations() -> usize {
    std::env::var("ORX_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

fn seed() -> u64 {
    std::env::var("ORX_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// Runs `target` on mutated `seeds`; returns how many distinct outcomes were seen (a rough
/// stand-in for coverage). Panics with the saved input on a crash.
fn fuzz(name: &str, seeds: &[Vec<u8>], target: impl Fn(&[u8]) -> String) -> usize {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let mut rng = Rng(seed().wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut outcomes = BTreeSet::new();
    let n = iterations();
    for i in 0..n {
        let base = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, base);
        match catch_unwind(AssertUnwindSafe(|| target(&input))) {
            Ok(outcome) => {
                outcomes.insert(outcome);
            }
            Err(_) => {
                let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-crashes");
                std::fs::create_dir_all(&dir).unwrap();
                let file = dir.join(format!("{name}-{}-{i}", seed()));
                std::fs::write(&file, &input).unwrap();
                panic!("{name}: input {i} panicked; saved to {}", file.display());
            }
        }
    }
    println!(
        "fuzz {name}: {n} inputs, seed {}, {} distinct outcomes, no panic",
        seed(),
        outcomes.len()
    );
    outcomes.len()
}

/// The first words of an error: enough to tell outcomes apart without counting every position.
fn class(e: &str) -> String {
    e.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

#[test]
fn the_config_loader_never_panics() {
    let mut seeds: Vec<Vec<u8>> = files(&tests_dir().join("corpus/config"))
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    seeds.push(std::fs::read(tests_dir().join("fixtures/seed-readme-orx.yaml")).unwrap());
    let n = fuzz("config", &seeds, |input| {
        let text = String::from_utf8_lossy(input);
        match load_str(&text, "orx.yaml", BTreeMap::new()) {
            Ok(_) => "ok".into(),
            Err(e) => class(&e.to_string()),
        }
    });
    assert!(n > 5, "the mutations reach several outcomes");
}

#[test]
fn the_backlog_extractor_never_panics() {
    let mut seeds: Vec<Vec<u8>> = files(&tests_dir().join("corpus/backlog"))
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    seeds.push(
        b"Here it is:\n```yaml\nitems:\n  - id: W001\n    title: A\n    acceptance: [a]\n  - id: W002\n    title: B\n    acceptance: [b]\n    depends_on: [W001]\n```\n".to_vec(),
    );
    let n = fuzz("backlog", &seeds, |input| {
        let text = String::from_utf8_lossy(input);
        match backlog::extract(&text) {
            Ok(items) => match backlog::validate(&items) {
                Ok(()) => {
                    let _ = backlog::topo_order(&items);
                    format!("ok {}", items.len())
                }
                Err(e) => class(&e.to_string()),
            },
            Err(e) => class(&e.to_string()),
        }
    });
    assert!(n > 3, "the mutations reach several outcomes");
}

#[test]
fn every_agent_stream_parser_never_panics() {
    let fixtures = files(&tests_dir().join("fixtures/agents"));
    for (kind, prefix) in [
        (ExecutorKind::Codex, "codex"),
        (ExecutorKind::Claude, "claude"),
        (ExecutorKind::Gemini, "gemini"),
        (ExecutorKind::Copilot, "copilot"),
        (ExecutorKind::Cursor, "cursor"),
    ] {
        let mut seeds: Vec<Vec<u8>> = fixtures
            .iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.contains("stdout"))
            })
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        seeds.extend(
            files(&tests_dir().join("corpus/streams").join(prefix))
                .into_iter()
                .map(|p| std::fs::read(p).unwrap()),
        );
        if seeds.is_empty() {
            seeds.push(b"{\"type\":\"result\",\"result\":\"ok\"}\n".to_vec());
        }
        fuzz(prefix, &seeds, |input| {
            let mut p = parser_for(kind);
            for line in String::from_utf8_lossy(input).lines() {
                p.line(line);
            }
            let parsed = p.finish();
            format!(
                "{:?} {:?} tools={} text={} usage={}",
                parsed.success,
                parsed.error.map(|e| e.kind),
                parsed.tool_calls.min(3),
                !parsed.text.is_empty(),
                parsed.usage.input > 0
            )
        });
    }
}
