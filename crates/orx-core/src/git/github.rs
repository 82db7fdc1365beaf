//! GitHub through the `gh` CLI: which repository a checkout's remote names, issues and their
//! comments, pull requests. Every call is `gh api` (the REST API), which reads the same in every
//! gh version, and goes through the process layer like any child.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::cancel::CancelToken;
use crate::process::{ProcessSpec, Stream, Termination, run};

/// What can go wrong talking to GitHub: each case says what happened; the front ends say what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// The `gh` program is not on PATH.
    #[error("the GitHub CLI (gh) is not installed or not on PATH")]
    NotInstalled,
    /// gh has no credentials for the host (or they were refused).
    #[error("gh is not logged in to {host}: {message}")]
    NotLoggedIn {
        /// The GitHub host.
        host: String,
        /// What gh said.
        message: String,
    },
    /// The checkout has no remote on GitHub.
    #[error("{}", match .url { Some(url) => format!("the remote `{remote}` ({url}) is not a GitHub repository"), None => format!("the repository has no remote `{remote}`, so orx does not know its GitHub repository") })]
    NoGitHubRemote {
        /// The remote orx looked at (git.remote).
        remote: String,
        /// Its URL, when it has one.
        url: Option<String>,
    },
    /// An issue or URL given by the user that is not one.
    #[error("`{given}` is not an issue number or a GitHub issue URL")]
    BadIssue {
        /// What was given.
        given: String,
    },
    /// GitHub has no such thing.
    #[error("{what} was not found on {repo}")]
    NotFound {
        /// What was asked for ("issue #12").
        what: String,
        /// The repository (HOST/OWNER/NAME).
        repo: String,
    },
    /// The call was stopped: the run was cancelled.
    #[error("the gh call was cancelled")]
    Cancelled,
    /// Any other failure of a gh call.
    #[error("gh api {call} failed ({termination}): {message}")]
    Call {
        /// The API path.
        call: String,
        /// How gh ended.
        termination: String,
        /// What gh said.
        message: String,
    },
}

/// A repository on a GitHub host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubRepo {
    /// The host (github.com, or an Enterprise host).
    pub host: String,
    /// The owner.
    pub owner: String,
    /// The repository's name.
    pub name: String,
}

impl std::fmt::Display for GitHubRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.host, self.owner, self.name)
    }
}

/// The host gh uses when none is named (its own `GH_HOST`, else github.com).
fn default_host() -> String {
    std::env::var("GH_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "github.com".into())
}

impl GitHubRepo {
    /// `[HOST/]OWNER/NAME`, the form of gh's `GH_REPO`.
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.trim().trim_matches('/').split('/').collect();
        let ok = |p: &&str| !p.is_empty() && !p.contains(char::is_whitespace);
        if !parts.iter().all(ok) {
            return None;
        }
        match parts[..] {
            [owner, name] => Some(Self {
                host: default_host(),
                owner: owner.into(),
                name: name.into(),
            }),
            [host, owner, name] => Some(Self {
                host: host.into(),
                owner: owner.into(),
                name: name.into(),
            }),
            _ => None,
        }
    }

    /// The repository a git remote URL names, when its host is GitHub's (github.com or gh's
    /// `GH_HOST`): `https://HOST/O/N(.git)`, `git@HOST:O/N(.git)`, `ssh://git@HOST/O/N(.git)`.
    pub fn from_remote_url(url: &str) -> Option<Self> {
        let url = url.trim();
        let rest = if let Some((scheme, rest)) = url.split_once("://") {
            if !matches!(scheme, "https" | "http" | "ssh" | "git") {
                return None;
            }
            rest.rsplit_once('@').map_or(rest, |(_, r)| r).to_string()
        } else {
            // scp-like: git@HOST:OWNER/NAME.
            let (user_host, path) = url.split_once(':')?;
            let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
            format!("{host}/{path}")
        };
        let rest = rest.trim_end_matches('/');
        let rest = rest.strip_suffix(".git").unwrap_or(rest);
        let parts: Vec<&str> = rest.split('/').collect();
        let [host, owner, name] = parts[..] else {
            return None;
        };
        // An ssh remote may carry a port (`ssh://git@HOST:22/O/N`).
        let host = host.split(':').next().unwrap_or(host);
        let known = host == "github.com" || host == default_host();
        (known && !owner.is_empty() && !name.is_empty()).then(|| Self {
            host: host.into(),
            owner: owner.into(),
            name: name.into(),
        })
    }
}

/// An issue as the user names it: a number in the checkout's repository, or an issue's URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueRef {
    /// `12` or `#12`.
    Number(u64),
    /// `https://HOST/OWNER/NAME/issues/12`.
    Url(GitHubRepo, u64),
}

impl IssueRef {
    /// Parses what the user gave.
    pub fn parse(given: &str) -> Result<Self, GitHubError> {
        let s = given.trim();
        let bad = || GitHubError::BadIssue {
            given: given.to_string(),
        };
        if let Ok(n) = s.trim_start_matches('#').parse::<u64>() {
            return (n > 0).then_some(Self::Number(n)).ok_or_else(bad);
        }
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or_else(bad)?;
        let rest = rest.split(['?', '#']).next().unwrap_or(rest);
        let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        match parts[..] {
            [host, owner, name, "issues", n] if !owner.is_empty() && !name.is_empty() => {
                let n: u64 = n.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
                Ok(Self::Url(
                    GitHubRepo {
                        host: host.into(),
                        owner: owner.into(),
                        name: name.into(),
                    },
                    n,
                ))
            }
            _ => Err(bad()),
        }
    }
}

/// An issue, read to become a run's task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// Its repository.
    pub repo: GitHubRepo,
    /// Its number.
    pub number: u64,
    /// Its page.
    pub url: String,
    /// Title.
    pub title: String,
    /// Body (Markdown).
    pub body: String,
    /// Label names.
    pub labels: Vec<String>,
    /// Comments: (author, text), oldest first.
    pub comments: Vec<(String, String)>,
}

impl Issue {
    /// The run's task: the issue's title, number and URL, labels, body and comments, then what
    /// the user added.
    pub fn task(&self, more: Option<&str>) -> String {
        let mut t = format!(
            "{}\n\nGitHub issue #{}: {}\n",
            self.title.trim(),
            self.number,
            self.url
        );
        if !self.labels.is_empty() {
            t.push_str(&format!("Labels: {}\n", self.labels.join(", ")));
        }
        if !self.body.trim().is_empty() {
            t.push_str(&format!("\n{}\n", self.body.trim()));
        }
        if !self.comments.is_empty() {
            t.push_str("\n## Comments on the issue\n");
            for (who, text) in &self.comments {
                t.push_str(&format!("\n{who} wrote:\n{}\n", text.trim()));
            }
        }
        if let Some(more) = more.map(str::trim).filter(|m| !m.is_empty()) {
            t.push_str(&format!("\n## Also\n\n{more}\n"));
        }
        t
    }
}

impl From<&Issue> for crate::protocol::IssueLink {
    fn from(i: &Issue) -> Self {
        Self {
            number: i.number,
            url: i.url.clone(),
            repo: format!("{}/{}", i.repo.owner, i.repo.name),
        }
    }
}

impl crate::protocol::IssueLink {
    /// `Closes #N`, or `Closes OWNER/NAME#N` for an issue of another repository than `pr_repo`.
    pub fn closes_in(&self, pr_repo: &GitHubRepo) -> String {
        if self.repo == format!("{}/{}", pr_repo.owner, pr_repo.name) {
            format!("Closes #{}", self.number)
        } else {
            format!("Closes {}#{}", self.repo, self.number)
        }
    }
}

/// The number a pull request's URL ends with (`…/pull/12`).
pub fn pull_request_number(url: &str) -> Option<u64> {
    let (rest, n) = url.trim_end_matches('/').rsplit_once('/')?;
    rest.ends_with("/pull").then(|| n.parse().ok()).flatten()
}

/// A pull request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number.
    pub number: u64,
    /// Its page.
    pub url: String,
}

/// A check of a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Its id (for GitHub Actions, its job's).
    pub id: u64,
    /// Its name, state and page.
    pub record: crate::protocol::CheckRecord,
}

/// What a new pull request holds.
#[derive(Clone, Debug)]
pub struct NewPullRequest<'a> {
    /// The branch it merges into.
    pub base: &'a str,
    /// The branch it merges.
    pub head: &'a str,
    /// Title.
    pub title: &'a str,
    /// The file that holds its body.
    pub body_file: &'a Path,
    /// Opened as a draft.
    pub draft: bool,
}

/// A GitHub repository reached through `gh`.
#[derive(Clone, Debug)]
pub struct GitHub {
    repo: GitHubRepo,
    cwd: PathBuf,
    log: Option<PathBuf>,
    redactor: Option<crate::redact::Redactor>,
    ledger: Option<crate::process::GroupLedger>,
    cancel: CancelToken,
}

/// How long one gh call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// The most of a reply orx reads.
const MAX_REPLY: usize = 16 << 20;

impl GitHub {
    /// The GitHub repository of the checkout at `dir`: gh's `GH_REPO` when set, else the URL of
    /// its remote `remote`.
    pub fn of_checkout(dir: &Path, remote: &str) -> crate::Result<Self> {
        let repo = match std::env::var("GH_REPO")
            .ok()
            .filter(|r| !r.trim().is_empty())
        {
            Some(r) => GitHubRepo::parse(&r).ok_or_else(|| GitHubError::NoGitHubRemote {
                remote: "GH_REPO".into(),
                url: Some(r.clone()),
            })?,
            None => {
                let (ok, url, _) = super::Git::new(dir).try_run(&["remote", "get-url", remote])?;
                let url = url.trim().to_string();
                if !ok || url.is_empty() {
                    return Err(GitHubError::NoGitHubRemote {
                        remote: remote.into(),
                        url: None,
                    }
                    .into());
                }
                GitHubRepo::from_remote_url(&url).ok_or(GitHubError::NoGitHubRemote {
                    remote: remote.into(),
                    url: Some(url),
                })?
            }
        };
        Ok(Self::new(repo, dir))
    }

    /// `repo`, with gh started in `cwd`.
    pub fn new(repo: GitHubRepo, cwd: &Path) -> Self {
        Self {
            repo,
            cwd: cwd.to_path_buf(),
            log: None,
            redactor: None,
            ledger: None,
            cancel: CancelToken::new(),
        }
    }

    /// Logs every call and what gh said to `log` (secrets masked by `redactor`), counts gh's
    /// group in the run's `ledger`, and stops a call on `cancel`.
    pub fn for_run(
        mut self,
        log: PathBuf,
        redactor: crate::redact::Redactor,
        ledger: crate::process::GroupLedger,
        cancel: CancelToken,
    ) -> Self {
        self.log = Some(log);
        self.redactor = Some(redactor);
        self.ledger = Some(ledger);
        self.cancel = cancel;
        self
    }

    /// The repository.
    pub fn repo(&self) -> &GitHubRepo {
        &self.repo
    }

    /// The same host, another repository (an issue's URL may name one).
    pub fn at(&self, repo: GitHubRepo) -> Self {
        Self {
            repo,
            ..self.clone()
        }
    }

    /// Reads issue `number` with its comments.
    pub fn issue(&self, number: u64) -> Result<Issue, GitHubError> {
        let base = format!(
            "repos/{}/{}/issues/{number}",
            self.repo.owner, self.repo.name
        );
        let what = format!("issue #{number}");
        let i = self.api("GET", &base, &[], &what)?;
        if i.get("pull_request").is_some_and(|p| !p.is_null()) {
            return Err(GitHubError::NotFound {
                what: format!("{what} (it is a pull request)"),
                repo: self.repo.to_string(),
            });
        }
        let comments = self.api("GET", &format!("{base}/comments?per_page=100"), &[], &what)?;
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        Ok(Issue {
            repo: self.repo.clone(),
            number,
            url: text(&i["html_url"]),
            title: text(&i["title"]),
            body: text(&i["body"]),
            labels: i["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["name"].as_str().or(l.as_str()).map(String::from))
                .collect(),
            comments: comments
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| (text(&c["user"]["login"]), text(&c["body"])))
                .collect(),
        })
    }

    /// The open pull request from branch `head` of this repository, if there is one.
    pub fn open_pull_request_of(&self, head: &str) -> Result<Option<PullRequest>, GitHubError> {
        let path = format!(
            "repos/{}/{}/pulls?state=open&head={}:{head}",
            self.repo.owner, self.repo.name, self.repo.owner
        );
        let v = self.api("GET", &path, &[], "the pull requests")?;
        Ok(v.as_array().and_then(|a| a.first()).map(|p| PullRequest {
            number: p["number"].as_u64().unwrap_or(0),
            url: p["html_url"].as_str().unwrap_or("").to_string(),
        }))
    }

    /// The checks of commit `sha` (GitHub's check runs; a GitHub Actions job is one).
    pub fn checks(&self, sha: &str) -> Result<Vec<Check>, GitHubError> {
        use crate::protocol::CheckState;
        let path = format!(
            "repos/{}/{}/commits/{sha}/check-runs?per_page=100",
            self.repo.owner, self.repo.name
        );
        let v = self.api("GET", &path, &[], &format!("commit {sha}"))?;
        let runs = v["check_runs"].as_array().cloned().unwrap_or_default();
        Ok(runs
            .iter()
            .map(|r| {
                let conclusion = r["conclusion"].as_str().map(String::from);
                let state = match (r["status"].as_str(), conclusion.as_deref()) {
                    (Some("completed"), Some("success" | "neutral" | "skipped")) => {
                        CheckState::Passed
                    }
                    (Some("completed"), _) => CheckState::Failed,
                    _ => CheckState::Pending,
                };
                Check {
                    id: r["id"].as_u64().unwrap_or(0),
                    record: crate::protocol::CheckRecord {
                        name: r["name"].as_str().unwrap_or("check").to_string(),
                        state,
                        conclusion,
                        url: r["html_url"].as_str().map(String::from),
                    },
                }
            })
            .collect())
    }

    /// The log of GitHub Actions job `id` (a check run's id is its job's).
    pub fn job_log(&self, id: u64) -> Result<String, GitHubError> {
        let path = format!(
            "repos/{}/{}/actions/jobs/{id}/logs",
            self.repo.owner, self.repo.name
        );
        self.call("GET", &path, &[], &format!("the log of job {id}"))
    }

    /// The unresolved review threads of pull request `number`, one comment each (its first
    /// comment's author; the replies follow its text).
    pub fn review_comments(
        &self,
        number: u64,
    ) -> Result<Vec<crate::protocol::ReviewComment>, GitHubError> {
        const QUERY: &str = "query($owner: String!, $name: String!, $number: Int!) { \
            repository(owner: $owner, name: $name) { pullRequest(number: $number) { \
            reviewThreads(first: 100) { nodes { isResolved path line startLine originalLine \
            comments(first: 50) { nodes { author { login } body } } } } } } }";
        let fields = [
            ("-f", format!("query={QUERY}")),
            ("-f", format!("owner={}", self.repo.owner)),
            ("-f", format!("name={}", self.repo.name)),
            ("-F", format!("number={number}")),
        ];
        let what = format!("pull request #{number}");
        let v = self.api("POST", "graphql", &fields, &what)?;
        let pr = &v["data"]["repository"]["pullRequest"];
        if pr.is_null() {
            return Err(GitHubError::NotFound {
                what,
                repo: self.repo.to_string(),
            });
        }
        let threads = pr["reviewThreads"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(threads
            .iter()
            .filter(|t| t["isResolved"] != Value::Bool(true))
            .filter_map(|t| {
                let comments = t["comments"]["nodes"].as_array()?;
                let first = comments.first()?;
                let who = |c: &Value| c["author"]["login"].as_str().unwrap_or("").to_string();
                let mut body = first["body"].as_str().unwrap_or("").trim().to_string();
                for reply in &comments[1..] {
                    body.push_str(&format!(
                        "\n  {} replied: {}",
                        who(reply),
                        reply["body"].as_str().unwrap_or("").trim()
                    ));
                }
                Some(crate::protocol::ReviewComment {
                    path: t["path"].as_str()?.to_string(),
                    start_line: t["startLine"].as_u64(),
                    line: t["line"].as_u64().or_else(|| t["originalLine"].as_u64()),
                    body,
                    author: who(first),
                })
            })
            .collect())
    }

    /// Opens a pull request.
    pub fn open_pull_request(&self, pr: &NewPullRequest<'_>) -> Result<PullRequest, GitHubError> {
        let body = format!("body=@{}", pr.body_file.display());
        let mut fields = vec![
            ("-f", format!("title={}", pr.title)),
            ("-f", format!("head={}", pr.head)),
            ("-f", format!("base={}", pr.base)),
            ("-F", body),
        ];
        if pr.draft {
            fields.push(("-F", "draft=true".into()));
        }
        let path = format!("repos/{}/{}/pulls", self.repo.owner, self.repo.name);
        let v = self.api("POST", &path, &fields, "the pull request")?;
        Ok(PullRequest {
            number: v["number"].as_u64().unwrap_or(0),
            url: v["html_url"].as_str().unwrap_or("").to_string(),
        })
    }

    /// One `gh api` call; its JSON reply.
    fn api(
        &self,
        method: &str,
        path: &str,
        fields: &[(&str, String)],
        what: &str,
    ) -> Result<Value, GitHubError> {
        let reply = self.call(method, path, fields, what)?;
        serde_json::from_str(&reply).map_err(|e| GitHubError::Call {
            call: path.into(),
            termination: "exit code 0".into(),
            message: format!("the reply is not JSON: {e}"),
        })
    }

    /// One `gh api` call; its reply as text.
    fn call(
        &self,
        method: &str,
        path: &str,
        fields: &[(&str, String)],
        what: &str,
    ) -> Result<String, GitHubError> {
        let mut args: Vec<String> = vec![
            "api".into(),
            "--hostname".into(),
            self.repo.host.clone(),
            "--method".into(),
            method.into(),
            "-H".into(),
            "Accept: application/vnd.github+json".into(),
            path.into(),
        ];
        for (flag, value) in fields {
            args.push((*flag).into());
            args.push(value.clone());
        }
        let mut spec = ProcessSpec::new("gh", args);
        spec.cwd = Some(self.cwd.clone());
        spec.timeout = Some(CALL_TIMEOUT);
        spec.env = vec![
            ("GH_PROMPT_DISABLED".into(), "1".into()),
            ("GH_NO_UPDATE_NOTIFIER".into(), "1".into()),
            ("NO_COLOR".into(), "1".into()),
        ];
        spec.capture_stdout = Some(MAX_REPLY);
        spec.stderr_log = self.log.clone();
        spec.redactor = self.redactor.clone();
        spec.ledger = self.ledger.clone();
        let mut said = String::new();
        let out = run(&spec, &self.cancel, &mut |stream, line| {
            if stream == Stream::Stderr {
                said.push_str(line);
                said.push('\n');
            }
        });
        let out = match out {
            Ok(out) => out,
            Err(crate::Error::Spawn { .. }) => return Err(GitHubError::NotInstalled),
            Err(e) => {
                return Err(GitHubError::Call {
                    call: path.into(),
                    termination: "not run".into(),
                    message: e.to_string(),
                });
            }
        };
        if out.termination == Termination::Cancelled {
            return Err(GitHubError::Cancelled);
        }
        let said = said.trim().to_string();
        if out.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        // gh says `gh: Not Found (HTTP 404)` and exits 1; not logged in, it exits 4.
        if said.contains("(HTTP 404)") {
            return Err(GitHubError::NotFound {
                what: what.into(),
                repo: self.repo.to_string(),
            });
        }
        if out.termination == Termination::Exited(4) || said.contains("(HTTP 401)") {
            return Err(GitHubError::NotLoggedIn {
                host: self.repo.host.clone(),
                message: crate::fsutil::tail_lines(&said, 2),
            });
        }
        Err(GitHubError::Call {
            call: path.into(),
            termination: out.termination.to_string(),
            message: crate::fsutil::tail_lines(&said, 3),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(host: &str, owner: &str, name: &str) -> GitHubRepo {
        GitHubRepo {
            host: host.into(),
            owner: owner.into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_github_remote_url_names_its_repository_in_every_form() {
        let want = Some(repo("github.com", "octo", "demo"));
        for url in [
            "https://github.com/octo/demo.git",
            "https://github.com/octo/demo",
            "https://x-access-token:abc@github.com/octo/demo.git",
            "git@github.com:octo/demo.git",
            "ssh://git@github.com/octo/demo.git",
            "ssh://git@github.com:22/octo/demo",
            "https://github.com/octo/demo/",
        ] {
            assert_eq!(GitHubRepo::from_remote_url(url), want, "{url}");
        }
        for url in [
            "/srv/git/demo.git",
            "https://gitlab.com/octo/demo.git",
            "git@gitlab.com:octo/demo.git",
            "https://github.com/octo",
            "file:///github.com/octo/demo",
        ] {
            assert_eq!(GitHubRepo::from_remote_url(url), None, "{url}");
        }
    }

    #[test]
    fn an_issue_is_a_number_or_an_issue_url() {
        assert_eq!(IssueRef::parse("12").unwrap(), IssueRef::Number(12));
        assert_eq!(IssueRef::parse(" #7 ").unwrap(), IssueRef::Number(7));
        assert_eq!(
            IssueRef::parse("https://github.com/octo/demo/issues/12#issuecomment-1").unwrap(),
            IssueRef::Url(repo("github.com", "octo", "demo"), 12)
        );
        for bad in [
            "0",
            "-3",
            "twelve",
            "https://github.com/octo/demo/pull/12",
            "https://github.com/octo/demo/issues/x",
            "https://github.com/octo/issues/12",
            "",
        ] {
            assert!(
                matches!(IssueRef::parse(bad), Err(GitHubError::BadIssue { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_pull_request_closes_an_issue_of_its_own_or_of_another_repository() {
        let link = crate::protocol::IssueLink {
            number: 12,
            url: "https://github.com/octo/demo/issues/12".into(),
            repo: "octo/demo".into(),
        };
        assert_eq!(
            link.closes_in(&repo("github.com", "octo", "demo")),
            "Closes #12"
        );
        assert_eq!(
            link.closes_in(&repo("github.com", "octo", "site")),
            "Closes octo/demo#12"
        );
    }
}
