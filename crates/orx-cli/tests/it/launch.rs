//! The launch seam: runs started, cancelled and resumed through a `Launcher`, in this process
//! (the real engine on a thread) and as detached processes (the real orx binary, its command
//! line worded here as orx-cli words it).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orx_core::launch::{Detached, DriverCommand, LaunchError, Launcher, ResumeSpec, RunSpec};
use orx_core::pipeline::InProcess;
use orx_core::protocol::RunStatus;
use orx_testkit::TestRepo;

use super::{ONE_ITEM, bin, repo_with, scenario};

fn spec(repo: &TestRepo, id: &str) -> RunSpec {
    RunSpec {
        repo: repo.path().to_path_buf(),
        run_id: id.to_string(),
        task: "Add a".into(),
        overrides: Default::default(),
        pipeline: None,
        base_branch: None,
        include_dirty: false,
        issue: None,
        follows: None,
    }
}

/// Polls `done` for at most 30 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn in_process_launcher_starts_cancels_and_resumes_a_run() {
    let implement = "  - write: { a.txt: \"a\\n\" }\n    sleep_ms: 1500\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, implement, ""), "");
    let config = orx_core::config::load_file(&repo.path().join("orx.yaml")).unwrap();
    let launcher = InProcess::new(config);
    let id = orx_core::run::new_run_id();

    launcher.start(&spec(&repo, &id)).unwrap();
    // `start` returns once the run can be seen.
    assert!(repo.run_dir(&id).join("state.json").exists());
    wait_for("implement", || {
        repo.state(&id).current_stage.as_deref() == Some("implement")
    });
    // Its id is taken, and it is driven here: a second start or a resume is refused, and the
    // cancel below still reaches the thread that drives it.
    let again = launcher.start(&spec(&repo, &id));
    assert!(
        matches!(again, Err(LaunchError::Refused { .. })),
        "{again:?}"
    );
    let resume = ResumeSpec {
        repo: repo.path().to_path_buf(),
        run_id: id.clone(),
        log: None,
        how: None,
    };
    let twice = launcher.resume(&resume);
    assert!(
        matches!(twice, Err(LaunchError::Refused { .. })),
        "{twice:?}"
    );
    launcher.cancel(repo.path(), &id).unwrap();
    let cancelled = launcher.join(&id).expect("driven here").unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);

    launcher.resume(&resume).unwrap();
    let resumed = launcher.join(&id).expect("driven here").unwrap();
    assert_eq!(resumed.status, RunStatus::Succeeded);
    assert_eq!(repo.state(&id).status, RunStatus::Succeeded);

    // A run it does not drive is not its to cancel.
    let other = launcher.cancel(repo.path(), "20260101-000000-aaaaaa");
    assert!(
        matches!(other, Err(LaunchError::NotHere { .. })),
        "{other:?}"
    );
}

/// The orx binary under test as a driver, worded like orx-cli's own driver.
#[derive(Debug)]
struct TestDriver(PathBuf);

impl DriverCommand for TestDriver {
    fn program(&self) -> &Path {
        &self.0
    }
    fn run_args(&self, spec: &RunSpec, task_file: &Path) -> Vec<OsString> {
        let mut task = OsString::from("@");
        task.push(task_file);
        vec![
            "--dir".into(),
            spec.repo.clone().into(),
            "--quiet".into(),
            "run".into(),
            task,
            "--run-id".into(),
            spec.run_id.clone().into(),
        ]
    }
    fn resume_args(&self, spec: &ResumeSpec) -> Vec<OsString> {
        let dir = spec.repo.clone().into();
        vec![
            "--dir".into(),
            dir,
            "resume".into(),
            spec.run_id.clone().into(),
        ]
    }
    fn cancel_args(&self, repo: &Path, run_id: &str) -> Vec<OsString> {
        vec!["--dir".into(), repo.into(), "cancel".into(), run_id.into()]
    }
}

#[test]
fn detached_launcher_starts_a_process_that_outlives_the_call_and_cancels_it() {
    let implement = "  - write: { a.txt: \"a\\n\" }\n    sleep_ms: 20000\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, implement, ""), "");
    let launcher = Detached::new(Arc::new(TestDriver(bin().to_path_buf())));
    let id = orx_core::run::new_run_id();
    launcher.start(&spec(&repo, &id)).unwrap();
    assert!(repo.run_dir(&id).join("state.json").exists());
    // The task went through its private file whole.
    assert_eq!(repo.run_file(&id, "context/task.md").trim(), "Add a");
    wait_for("implement", || {
        repo.state(&id).current_stage.as_deref() == Some("implement")
    });
    launcher.cancel(repo.path(), &id).unwrap();
    wait_for("the cancelled checkpoint", || {
        repo.state(&id).status == RunStatus::Cancelled
    });
    // The id is taken: a second start is refused instead of reporting the other run's folder.
    let again = launcher.start(&spec(&repo, &id));
    assert!(
        matches!(again, Err(LaunchError::Refused { .. })),
        "{again:?}"
    );
}

#[test]
fn detached_launcher_says_why_a_driver_ended_before_its_run_existed() {
    let repo = TestRepo::new(&[("f", "x")]);
    // A pipeline that does not exist: orx refuses before it makes the run folder.
    #[derive(Debug)]
    struct Refusing(TestDriver);
    impl DriverCommand for Refusing {
        fn program(&self) -> &Path {
            self.0.program()
        }
        fn run_args(&self, spec: &RunSpec, task_file: &Path) -> Vec<OsString> {
            let mut a = self.0.run_args(spec, task_file);
            a.extend(["--pipeline".into(), "no_such_pipeline".into()]);
            a
        }
        fn resume_args(&self, spec: &ResumeSpec) -> Vec<OsString> {
            self.0.resume_args(spec)
        }
        fn cancel_args(&self, repo: &Path, run_id: &str) -> Vec<OsString> {
            self.0.cancel_args(repo, run_id)
        }
    }
    let launcher = Detached::new(Arc::new(Refusing(TestDriver(bin().to_path_buf()))));
    let id = orx_core::run::new_run_id();
    let err = launcher.start(&spec(&repo, &id)).unwrap_err();
    let LaunchError::Ended { message, .. } = &err else {
        panic!("expected Ended, got {err:?}");
    };
    assert!(message.contains("no_such_pipeline"), "{err}");
    assert!(!repo.run_dir(&id).exists());

    // Cancelling a run that does not exist: the driver's own words come back.
    let refused = launcher.cancel(repo.path(), &id).unwrap_err();
    assert!(
        matches!(refused, LaunchError::Refused { .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains(&id), "{refused}");
}
