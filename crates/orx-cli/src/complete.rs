//! Shell completion of the values only orx knows: run ids (with `last`), pipeline ids, stage
//! names and role routes. The shell asks the orx binary itself at completion time
//! (`orx completions SHELL` prints the script that does so), so new runs complete at once.

use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};

/// The repository completion works in: `ORX_DIR`, else the current directory's.
fn repo() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("ORX_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_dir().ok())?;
    orx_core::git::Git::toplevel(&dir).ok()
}

/// `last` and the newest run ids, each with its task.
pub fn runs() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let Some(repo) = repo() else {
            return Vec::new();
        };
        let store = orx_core::run::Store::new(&repo);
        let ids = store.ids().unwrap_or_default();
        let mut out = vec![CompletionCandidate::new("last").help(Some("the newest run".into()))];
        for id in ids.into_iter().take(200) {
            let task = store.summary(&id).task;
            out.push(CompletionCandidate::new(id).help(Some(task.into())));
        }
        out
    })
}

/// The built-in pipelines and the repository's.
pub fn pipelines() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let mut out: Vec<CompletionCandidate> = orx_core::pipeline::PipelineDef::builtins()
            .into_iter()
            .map(|p| CompletionCandidate::new(p.id).help(Some(p.description.into())))
            .collect();
        if let Some(repo) = repo() {
            for (_, def) in orx_core::pipeline::PipelineDef::in_repo(&repo) {
                if let Ok(p) = def {
                    out.push(CompletionCandidate::new(p.id).help(Some(p.description.into())));
                }
            }
        }
        out
    })
}

/// The stages a run has (`--from`).
pub fn stages() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        orx_core::pipeline::KNOWN_STAGES
            .iter()
            .map(|s| CompletionCandidate::new(*s))
            .collect()
    })
}

/// Roles and items whose logs `logs --stage` prints.
pub fn log_stages() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        orx_core::config::ROLES
            .iter()
            .map(|s| CompletionCandidate::new(*s))
            .collect()
    })
}

/// `ROLE=EXECUTOR` for `--stage`.
pub fn role_routes() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let executors = ["codex", "claude", "gemini", "cursor", "copilot", "fake"];
        orx_core::config::ROLES
            .iter()
            .flat_map(|r| {
                executors
                    .iter()
                    .map(move |e| CompletionCandidate::new(format!("{r}={e}")))
            })
            .collect()
    })
}
