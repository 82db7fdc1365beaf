//! Path rules over a change (SPEC §7): forbidden patterns, allowlist mode, max files changed.
//! Patterns follow .gitignore habits: no slash matches the name at any depth, a slash anchors
//! at the root, `**` spans folders.

use std::path::Path;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::config::{GuardrailMode, GuardrailsConfig};

/// Compiled guardrails.
#[derive(Debug, Clone)]
pub struct Guardrails {
    forbidden: GlobSet,
    allowed: Option<GlobSet>,
    max_files: usize,
    enabled: bool,
}

/// What a check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations {
    /// Paths that match a forbidden pattern.
    pub forbidden: Vec<String>,
    /// Paths outside the allowlist.
    pub not_allowed: Vec<String>,
    /// More files changed than allowed: (changed, max).
    pub too_many: Option<(usize, usize)>,
    /// Paths that are git's own data: through a `.git` folder, or a folder holding a nested
    /// repository. Forbidden whatever the config says.
    pub git: Vec<String>,
}

impl Violations {
    /// True when nothing was violated.
    pub fn is_empty(&self) -> bool {
        self.forbidden.is_empty()
            && self.not_allowed.is_empty()
            && self.too_many.is_none()
            && self.git.is_empty()
    }

    /// The paths that must be reverted.
    pub fn to_revert(&self) -> Vec<String> {
        self.git
            .iter()
            .chain(&self.forbidden)
            .chain(&self.not_allowed)
            .cloned()
            .collect()
    }

    /// A description naming the files, for the evidence.
    pub fn describe(&self) -> String {
        let mut out = Vec::new();
        if !self.git.is_empty() {
            out.push(format!(
                "changed git's own data, a .git folder or a nested repository (reverted): {}",
                self.git.join(", ")
            ));
        }
        if !self.forbidden.is_empty() {
            out.push(format!(
                "changed forbidden files (reverted): {}",
                self.forbidden.join(", ")
            ));
        }
        if !self.not_allowed.is_empty() {
            out.push(format!(
                "changed files outside guardrails.allowed_patterns (reverted): {}",
                self.not_allowed.join(", ")
            ));
        }
        if let Some((n, max)) = self.too_many {
            out.push(format!(
                "changed {n} files, more than guardrails.max_files_changed ({max})"
            ));
        }
        out.join("; ")
    }
}

fn glob(pattern: &str) -> Result<Vec<Glob>, globset::Error> {
    let p = pattern.trim_start_matches("./");
    let anchored = p.trim_start_matches('/');
    let mk = |s: &str| GlobBuilder::new(s).literal_separator(true).build();
    if p.contains('/') {
        // Anchored at the root; a trailing slash means the folder's contents.
        if let Some(dir) = anchored.strip_suffix('/') {
            Ok(vec![mk(&format!("{dir}/**"))?])
        } else {
            Ok(vec![mk(anchored)?, mk(&format!("{anchored}/**"))?])
        }
    } else {
        // The name at any depth (and, for a folder name, everything below it).
        Ok(vec![mk(&format!("**/{p}"))?, mk(&format!("**/{p}/**"))?])
    }
}

fn build(patterns: &[String]) -> Result<GlobSet, globset::Error> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        for g in glob(p)? {
            b.add(g);
        }
    }
    b.build()
}

impl Guardrails {
    /// Compiles the config (patterns were validated when the config was loaded).
    pub fn new(cfg: &GuardrailsConfig) -> Result<Self, globset::Error> {
        Ok(Self {
            forbidden: build(&cfg.forbidden_patterns)?,
            allowed: match cfg.mode {
                GuardrailMode::Allowlist => Some(build(&cfg.allowed_patterns)?),
                GuardrailMode::Blacklist => None,
            },
            max_files: cfg.max_files_changed.get() as usize,
            enabled: cfg.enabled,
        })
    }

    /// Checks the changed `paths` (relative to the worktree root).
    pub fn check(&self, paths: &[String]) -> Violations {
        let mut v = Violations::default();
        if !self.enabled {
            return v;
        }
        for p in paths {
            if self.forbidden.is_match(p) {
                v.forbidden.push(p.clone());
            } else if let Some(allowed) = &self.allowed
                && !allowed.is_match(p)
            {
                v.not_allowed.push(p.clone());
            }
        }
        if paths.len() > self.max_files {
            v.too_many = Some((paths.len(), self.max_files));
        }
        v
    }

    /// [`Guardrails::check`] of paths changed in the worktree at `root`, plus git's own data in
    /// any form, whatever the config says: a path through a `.git` folder (in any letter case),
    /// or a folder holding a nested repository (git records it as a link to another repository).
    pub fn check_in(&self, root: &Path, paths: &[String]) -> Violations {
        let mut v = self.check(paths);
        v.git = paths
            .iter()
            .filter(|p| touches_git(root, p))
            .cloned()
            .collect();
        v.forbidden.retain(|p| !v.git.contains(p));
        v.not_allowed.retain(|p| !v.git.contains(p));
        v
    }
}

/// True when `rel` (a changed path under `root`) is git's own data. Symlinks are never followed:
/// a link to the user's checkout is not a nested repository.
fn touches_git(root: &Path, rel: &str) -> bool {
    if rel.split('/').any(|c| c.eq_ignore_ascii_case(".git")) {
        return true;
    }
    let full = root.join(rel);
    std::fs::symlink_metadata(&full).is_ok_and(|m| m.is_dir())
        && std::fs::symlink_metadata(full.join(".git")).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Ranged;

    fn cfg(forbidden: &[&str], allowed: Option<&[&str]>, max: u64) -> Guardrails {
        Guardrails::new(&GuardrailsConfig {
            enabled: true,
            mode: if allowed.is_some() {
                GuardrailMode::Allowlist
            } else {
                GuardrailMode::Blacklist
            },
            forbidden_patterns: forbidden.iter().map(|s| s.to_string()).collect(),
            allowed_patterns: allowed
                .unwrap_or(&[])
                .iter()
                .map(|s| s.to_string())
                .collect(),
            max_files_changed: Ranged(max),
        })
        .unwrap()
    }

    #[test]
    fn default_patterns_block_secrets_at_any_depth() {
        let g = Guardrails::new(&GuardrailsConfig::default()).unwrap();
        let paths: Vec<String> = [
            ".env",
            "config/secrets.yaml",
            "a/b/c.pem",
            ".env.local",
            "src/app.py",
            "deploy/x.key",
        ]
        .map(String::from)
        .to_vec();
        let v = g.check(&paths);
        assert_eq!(
            v.forbidden,
            [
                ".env",
                "config/secrets.yaml",
                "a/b/c.pem",
                ".env.local",
                "deploy/x.key"
            ]
        );
    }

    #[test]
    fn star_env_matches_dotenv_and_nested() {
        let g = cfg(&["*.env"], None, 50);
        let v = g.check(&[".env".into(), "config/prod.env".into(), "env.py".into()]);
        assert_eq!(v.forbidden, [".env", "config/prod.env"]);
    }

    #[test]
    fn slash_anchors_and_double_star_spans() {
        let g = cfg(&["build/", "docs/**/*.bin"], None, 50);
        let v = g.check(&[
            "build/a.o".into(),
            "src/build/a.o".into(),
            "docs/x/y/z.bin".into(),
        ]);
        assert_eq!(v.forbidden, ["build/a.o", "docs/x/y/z.bin"]);
    }

    #[test]
    fn git_data_and_nested_repositories_are_forbidden_even_with_guardrails_off() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("vendor/lib/.git")).unwrap();
        std::fs::create_dir_all(root.path().join("plain")).unwrap();
        std::os::unix::fs::symlink(root.path().join("vendor/lib"), root.path().join("link"))
            .unwrap();
        let g = Guardrails::new(&GuardrailsConfig {
            enabled: false,
            ..Default::default()
        })
        .unwrap();
        let paths: Vec<String> = ["vendor/lib", "sub/.GIT/config", "plain", "link", "src/a.py"]
            .map(String::from)
            .to_vec();
        let v = g.check_in(root.path(), &paths);
        assert_eq!(v.git, ["vendor/lib", "sub/.GIT/config"]);
        assert!(v.forbidden.is_empty() && v.not_allowed.is_empty());
        assert_eq!(v.to_revert(), ["vendor/lib", "sub/.GIT/config"]);
        assert!(
            v.describe().contains("nested repository"),
            "{}",
            v.describe()
        );
    }

    #[test]
    fn allowlist_and_max_files() {
        let g = cfg(&[".env"], Some(&["src/**", "tests/**"]), 2);
        let v = g.check(&["src/a.py".into(), "README.md".into(), "tests/t.py".into()]);
        assert_eq!(v.not_allowed, ["README.md"]);
        assert_eq!(v.too_many, Some((3, 2)));
        assert!(v.describe().contains("README.md"));
    }
}
