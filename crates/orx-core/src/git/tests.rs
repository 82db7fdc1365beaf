//! The git wrapper against real git on temporary repositories.

use super::*;

/// A repository with one commit, isolated from the user's and the system's git config.
fn repo(files: &[(&str, &[u8])]) -> (tempfile::TempDir, Git, String) {
    let dir = tempfile::tempdir().unwrap();
    let git = Git::new(dir.path());
    git.run(&["init", "--quiet", "--initial-branch=main"])
        .unwrap();
    git.run(&["config", "user.name", "t"]).unwrap();
    git.run(&["config", "user.email", "t@localhost"]).unwrap();
    git.run(&["config", "commit.gpgsign", "false"]).unwrap();
    for (path, bytes) in files {
        write(dir.path(), path, bytes);
    }
    let base = git.commit_all("init").unwrap().unwrap();
    (dir, git, base)
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

#[test]
fn one_diff_gives_the_patch_the_stats_and_every_path_of_a_mixed_change() {
    let (dir, git, base) = repo(&[
        ("a.txt", b"one\ntwo\n"),
        ("keep/moved.txt", b"a\nb\nc\nd\ne\nf\n"),
        ("gone.txt", b"x\n"),
        ("bin.dat", b"\x00\x01\x02"),
    ]);
    write(dir.path(), "a.txt", b"one\nTWO\nthree\n");
    std::fs::rename(
        dir.path().join("keep/moved.txt"),
        dir.path().join("new place.txt"),
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("gone.txt")).unwrap();
    write(dir.path(), "bin.dat", b"\x00\x01\x03\x04");
    write(dir.path(), "deep/new/ü file.txt", b"hello\n");

    let c = git.changes(&base).unwrap();
    let mut paths = c.paths.clone();
    paths.sort();
    assert_eq!(
        paths,
        [
            "a.txt",
            "bin.dat",
            "deep/new/ü file.txt",
            "gone.txt",
            "keep/moved.txt",
            "new place.txt"
        ]
    );
    // a.txt +2 -1, the new file +1, gone.txt -1; the rename and the binary count 0.
    assert_eq!(
        c.stats,
        DiffStats {
            files: 5,
            added: 3,
            removed: 2
        }
    );
    // The patch is the one `diff_since` gives: git applies it to the base.
    assert_eq!(c.patch, git.diff_since(&base).unwrap());
    assert!(c.patch.contains("rename to new place.txt"), "{}", c.patch);
    assert!(c.patch.contains("GIT binary patch"), "{}", c.patch);
    let check = Git::new(dir.path());
    check
        .run(&["stash", "--quiet", "--include-untracked"])
        .unwrap();
    let patch_file = dir.path().join("../changes.patch");
    std::fs::write(&patch_file, &c.patch).unwrap();
    check
        .run(&["apply", "--check", &patch_file.display().to_string()])
        .unwrap();
}

#[test]
fn no_changes_parse_to_nothing() {
    let (_dir, git, base) = repo(&[("a.txt", b"one\n")]);
    let c = git.changes(&base).unwrap();
    assert!(c.is_empty());
    assert_eq!(c.stats, DiffStats::default());
    assert!(c.paths.is_empty());
}

#[test]
fn the_numstat_records_are_read_up_to_the_empty_record_only() {
    // A path with a tab and a newline (quoted nowhere with -z), then a rename, then the patch
    // whose own text holds NUL-free lines that look like records.
    let out = "1\t2\tweird\tname\nx\u{0}0\t0\t\u{0}old\u{0}new\u{0}\u{0}diff --git a/x b/x\n3\t4\tnot-a-record\n";
    let c = Changes::parse(out);
    assert_eq!(c.paths, ["weird\tname\nx", "old", "new"]);
    assert_eq!(
        c.stats,
        DiffStats {
            files: 2,
            added: 1,
            removed: 2
        }
    );
    assert_eq!(c.patch, "diff --git a/x b/x\n3\t4\tnot-a-record\n");
    // A cut output (no empty record) keeps what it could read and no patch.
    let cut = Changes::parse("5\t1\ta.txt\u{0}7\t");
    assert_eq!(cut.paths, ["a.txt"]);
    assert_eq!(cut.patch, "");
}

#[test]
fn a_snapshot_sees_an_edit_a_new_file_and_a_commit_and_knows_head() {
    let (dir, git, base) = repo(&[("a.txt", b"one\n")]);
    let clean = git.snapshot().unwrap();
    assert!(clean.clean);
    assert_eq!(clean.head.as_deref(), Some(base.as_str()));
    assert_eq!(
        git.snapshot().unwrap(),
        clean,
        "two snapshots of one state differ"
    );

    write(dir.path(), "b/new.txt", b"x\n");
    let untracked = git.snapshot().unwrap();
    assert!(!untracked.clean);
    assert_ne!(untracked, clean);

    std::fs::remove_file(dir.path().join("b/new.txt")).unwrap();
    write(dir.path(), "a.txt", b"two\n");
    let edited = git.snapshot().unwrap();
    assert!(!edited.clean);
    assert_ne!(edited, untracked);

    let sha = git.commit_all("edit").unwrap().unwrap();
    let committed = git.snapshot().unwrap();
    assert!(committed.clean);
    assert_eq!(committed.head.as_deref(), Some(sha.as_str()));
    assert_ne!(committed, clean, "a commit must change the snapshot");
}

#[test]
fn commit_all_commits_everything_and_says_when_there_was_nothing() {
    let (dir, git, base) = repo(&[("a.txt", b"one\n")]);
    assert_eq!(git.commit_all("nothing").unwrap(), None);
    assert_eq!(git.head().unwrap(), base);
    write(dir.path(), "n/new.txt", b"x\n");
    let sha = git.commit_all("new").unwrap().unwrap();
    assert_eq!(git.head().unwrap(), sha);
    assert!(git.snapshot().unwrap().clean);
    assert_eq!(git.log_subjects(&format!("{base}..HEAD")).unwrap(), ["new"]);
}

#[test]
fn commit_all_reports_a_real_commit_failure() {
    let (dir, git, _base) = repo(&[("a.txt", b"one\n")]);
    write(dir.path(), "a.txt", b"two\n");
    // The branch's ref is locked by someone else: the commit itself fails, after the add.
    write(dir.path(), ".git/refs/heads/main.lock", b"");
    let err = git.commit_all("blocked").unwrap_err();
    assert!(err.to_string().contains("lock"), "{err}");
    std::fs::remove_file(dir.path().join(".git/refs/heads/main.lock")).unwrap();
    assert!(git.commit_all("unblocked").unwrap().is_some());
}

#[test]
fn paths_that_are_not_utf8_are_listed_and_reverted_exactly() {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    let kept = std::ffi::OsStr::from_bytes(b"old\xff.txt");
    let (dir, git, base) = repo(&[("a.txt", b"one\n")]);
    std::fs::write(dir.path().join(kept), b"v1\n").unwrap();
    let base2 = git.commit_all("kept").unwrap().unwrap();
    assert_ne!(base, base2);
    std::fs::write(dir.path().join(name), b"new\n").unwrap();
    std::fs::write(dir.path().join(kept), b"v2\n").unwrap();
    let c = git.changes(&base2).unwrap();
    let mut paths = c.paths.clone();
    paths.sort();
    assert_eq!(paths, ["caf\u{FFFD}.txt", "old\u{FFFD}.txt"]);
    // git quotes such names in the patch: it stays ASCII and applicable.
    assert!(c.patch.contains("\"b/caf\\351.txt\""), "{}", c.patch);
    git.revert_paths(&base2, &c.paths).unwrap();
    assert!(!dir.path().join(name).exists(), "the new file is removed");
    assert_eq!(std::fs::read(dir.path().join(kept)).unwrap(), b"v1\n");
    assert!(git.changes(&base2).unwrap().is_empty());
}

#[test]
fn a_repository_whose_path_is_not_utf8_is_refused_with_the_fix() {
    use std::os::unix::ffi::OsStrExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join(std::ffi::OsStr::from_bytes(b"r\xe9po"));
    std::fs::create_dir(&dir).unwrap();
    Git::new(&dir).run(&["init", "--quiet"]).unwrap();
    let err = Git::toplevel(&dir).unwrap_err();
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    assert!(
        matches!(err, Error::Git(GitError::PathNotUtf8 { .. })),
        "{err:?}"
    );
}

#[test]
fn secrets_in_git_commands_and_their_errors_are_masked_in_the_log() {
    let (dir, git, base) = repo(&[("a.txt", b"a\n")]);
    let log = dir.path().join("git.log");
    let secret = "sekrit-0123456789";
    let git = git
        .with_log(Some(log.clone()))
        .with_redactor(crate::redact::Redactor::new([secret.to_string()]));
    // A failing command: its arguments and its error both reach the log.
    let url = format!("https://x:{secret}@127.0.0.1:9/none.git");
    git.run(&["remote", "add", "origin", &url]).unwrap();
    let (ok, _, err) = git.try_run(&["rev-parse", "--verify", secret]).unwrap();
    assert!(!ok && !err.is_empty());
    // The bytes path (paths that may not be UTF-8) logs the same way.
    git.revert_paths(&base, &[format!("{secret}.txt")]).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("rev-parse --verify ***"), "{text}");
    assert!(text.contains("x:***@127.0.0.1"), "{text}");
    assert!(
        text.contains("cat-file -e"),
        "the bytes path logged: {text}"
    );
    assert!(!text.contains(secret), "{text}");
}

#[test]
fn excludes_are_anchored_and_older_unanchored_ones_mended() {
    // A fresh file gets the anchored entries under orx's header.
    assert_eq!(
        mend_excludes("# git's own comment\n").as_deref(),
        Some("# git's own comment\n# orx run folders and worktrees\n/runs/\n/.worktrees/\n")
    );
    // What an older orx wrote is mended in place; the user's own `runs/` elsewhere is kept.
    let old = "build/\n# orx run folders and worktrees\nruns/\n.worktrees/\n\nlogs/runs/\nruns/\n";
    assert_eq!(
        mend_excludes(old).as_deref(),
        Some(
            "build/\n# orx run folders and worktrees\n/runs/\n/.worktrees/\n\nlogs/runs/\nruns/\n"
        )
    );
    // Already right: nothing to write.
    let right = "# orx run folders and worktrees\n/runs/\n/.worktrees/\n";
    assert_eq!(mend_excludes(right), None);
    // One entry missing under the header: added there.
    assert_eq!(
        mend_excludes("# orx run folders and worktrees\nruns/\nother\n").as_deref(),
        Some("# orx run folders and worktrees\n/.worktrees/\n/runs/\nother\n")
    );
}

#[test]
fn a_pinned_worktree_refuses_every_command_once_its_git_file_or_folder_is_gone() {
    let (dir, git, base) = repo(&[("a.txt", b"one\n")]);
    let wt = dir.path().join(".worktrees/r1");
    git.worktree_add(&wt, "orx/r1", &base).unwrap();
    let pinned = git.worktree(&wt);
    write(&wt, "b.txt", b"b\n");
    assert_eq!(pinned.changed_paths(&base).unwrap(), ["b.txt"]);
    // The user's own work in the main checkout.
    write(dir.path(), "a.txt", b"user edit\n");
    write(dir.path(), ".env", b"TOKEN=x\n");

    std::fs::remove_file(wt.join(".git")).unwrap();
    for err in [
        pinned.add_all().unwrap_err(),
        pinned.commit_all("x").unwrap_err(),
        pinned.run(&["reset", "--hard"]).unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                Error::Git(GitError::WorktreeLost {
                    problem: WorktreeProblem::GitFileMissing,
                    ..
                })
            ),
            "{err}"
        );
    }
    // A .git file pointing at the main repository is refused too.
    std::fs::write(
        wt.join(".git"),
        format!("gitdir: {}\n", dir.path().join(".git").display()),
    )
    .unwrap();
    let err = pinned.add_all().unwrap_err();
    assert!(err.to_string().contains("no longer points"), "{err}");
    // A removed folder is named as such.
    std::fs::remove_dir_all(&wt).unwrap();
    let err = pinned.add_all().unwrap_err();
    assert!(err.to_string().contains("its folder is gone"), "{err}");
    // The main checkout was never touched.
    assert_eq!(
        std::fs::read(dir.path().join("a.txt")).unwrap(),
        b"user edit\n"
    );
    assert!(dir.path().join(".env").exists());
    assert_eq!(git.head().unwrap(), base);
    assert_eq!(
        git.run(&["status", "--porcelain"]).unwrap(),
        " M a.txt\n?? .env\n"
    );
}

#[test]
fn a_nested_repository_with_a_commit_is_seen_and_loses_its_git_folder_on_revert() {
    let (dir, git, base) = repo(&[("a.txt", b"one\n")]);
    let nested = dir.path().join("vendor/lib");
    write(&nested, "f.txt", b"x\n");
    let inner = Git::new(&nested);
    inner
        .run(&["init", "--quiet", "--initial-branch=main"])
        .unwrap();
    inner.run(&["config", "user.name", "t"]).unwrap();
    inner.run(&["config", "user.email", "t@localhost"]).unwrap();
    inner.commit_all("inner").unwrap();
    let (c, nested_paths) = git.changes_unnesting(&base).unwrap();
    assert!(nested_paths.is_empty());
    // git records it as a link to another repository.
    assert_eq!(c.paths, ["vendor/lib"]);
    assert!(c.patch.contains("Subproject commit"), "{}", c.patch);
    git.revert_paths(&base, &c.paths).unwrap();
    assert!(!nested.join(".git").exists());
    assert!(
        nested.join("f.txt").exists(),
        "the files stay, as plain files"
    );
    assert_eq!(git.changed_paths(&base).unwrap(), ["vendor/lib/f.txt"]);
}

#[test]
fn a_worktree_is_added_on_a_new_branch_or_on_the_branch_that_already_exists() {
    let (dir, git, base) = repo(&[("a.txt", b"one\n")]);
    // New branch: added at once.
    let first = dir.path().join(".worktrees/r1");
    git.worktree_add(&first, "orx/r1", &base).unwrap();
    assert_eq!(git.worktree(&first).head().unwrap(), base);
    // The branch exists (a killed start made it) and an empty folder sits at the path: the
    // worktree is added on that branch.
    git.run(&["branch", "orx/r2", &base]).unwrap();
    let second = dir.path().join(".worktrees/r2");
    std::fs::create_dir_all(&second).unwrap();
    git.worktree_add(&second, "orx/r2", &base).unwrap();
    assert_eq!(
        git.worktree(&second).current_branch().unwrap().as_deref(),
        Some("orx/r2")
    );
}

/// A driver killed inside `git worktree add` leaves the path registered with no folder, locked
/// (git was still "initializing") or not; adding the run's worktree again clears that and works.
#[test]
fn a_worktree_left_registered_without_its_folder_is_added_again() {
    for locked in [true, false] {
        let (dir, git, base) = repo(&[("a.txt", b"one\n")]);
        let wt = dir.path().join(".worktrees/r1");
        git.worktree_add(&wt, "orx/r1", &base).unwrap();
        if locked {
            git.run(&[
                "worktree",
                "lock",
                "--reason",
                "initializing",
                &wt.display().to_string(),
            ])
            .unwrap();
        }
        std::fs::remove_dir_all(&wt).unwrap();
        let again = git.run(&[
            "worktree",
            "add",
            "--quiet",
            &wt.display().to_string(),
            "orx/r1",
        ]);
        assert!(again.is_err(), "git refuses a registered path: {again:?}");
        git.worktree_add(&wt, "orx/r1", &base).unwrap();
        assert_eq!(
            std::fs::read(wt.join("a.txt")).unwrap(),
            b"one\n",
            "locked: {locked}"
        );
    }
}
