//! The orx.yaml schema. Every section has defaults, so an empty file (or none) is a valid config.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::IString;

/// A whole number checked against a range while it is parsed, so the error has a line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Ranged<const MIN: u64, const MAX: u64>(pub u64);

impl<const MIN: u64, const MAX: u64> Ranged<MIN, MAX> {
    /// The value.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Ranged<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(d)?;
        if v < MIN || v > MAX {
            let range = if MAX == u64::MAX {
                format!("at least {MIN}")
            } else {
                format!("between {MIN} and {MAX}")
            };
            return Err(serde::de::Error::custom(format!(
                "{v} is out of range: expected {range}"
            )));
        }
        Ok(Self(v))
    }
}

/// Seconds, at least 1.
pub type Seconds = Ranged<1, 86_400>;

/// The agent CLIs orx can drive.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// OpenAI Codex CLI.
    Codex,
    /// Google Gemini CLI.
    Gemini,
    /// Anthropic Claude Code.
    #[serde(alias = "claude_code")]
    Claude,
    /// Cursor Agent.
    Cursor,
    /// GitHub Copilot CLI.
    Copilot,
    /// The built-in scripted agent.
    Fake,
}

impl ExecutorKind {
    /// Every executor, in display order.
    pub const ALL: [ExecutorKind; 6] = [
        ExecutorKind::Codex,
        ExecutorKind::Gemini,
        ExecutorKind::Claude,
        ExecutorKind::Cursor,
        ExecutorKind::Copilot,
        ExecutorKind::Fake,
    ];

    /// The name used in orx.yaml.
    pub fn name(self) -> &'static str {
        match self {
            ExecutorKind::Codex => "codex",
            ExecutorKind::Gemini => "gemini",
            ExecutorKind::Claude => "claude",
            ExecutorKind::Cursor => "cursor",
            ExecutorKind::Copilot => "copilot",
            ExecutorKind::Fake => "fake",
        }
    }

    /// Parses a name from the command line (`claude_code` is accepted for `claude`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "codex" => Some(Self::Codex),
            "gemini" => Some(Self::Gemini),
            "claude" | "claude_code" => Some(Self::Claude),
            "cursor" => Some(Self::Cursor),
            "copilot" => Some(Self::Copilot),
            "fake" => Some(Self::Fake),
            _ => None,
        }
    }

    /// The binary looked up on PATH when `bin` is not configured.
    pub fn default_binary(self) -> &'static str {
        match self {
            ExecutorKind::Codex => "codex",
            ExecutorKind::Gemini => "gemini",
            ExecutorKind::Claude => "claude",
            ExecutorKind::Cursor => "cursor-agent",
            ExecutorKind::Copilot => "copilot",
            ExecutorKind::Fake => "(built in)",
        }
    }
}

impl std::fmt::Display for ExecutorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The whole orx.yaml.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Schema version (informational).
    pub version: Option<IString>,
    /// The default engine.
    pub engine: EngineConfig,
    /// Per-executor settings.
    pub executors: Executors,
    /// Per-stage routing overrides.
    pub stages: Stages,
    /// Git behaviour.
    pub git: GitConfig,
    /// Quality gates run after every attempt.
    pub gates: Vec<GateConfig>,
    /// Path rules over each change.
    pub guardrails: GuardrailsConfig,
    /// Run limits.
    pub run: RunConfig,
    /// The knowledge update stage.
    pub knowledge: KnowledgeConfig,
    /// Fallback rules on agent errors.
    pub fallback: FallbackConfig,
    /// Price per million tokens, by model.
    pub pricing: BTreeMap<String, Price>,
    /// The dashboard server.
    pub dashboard: DashboardConfig,
    /// Commands run in a new worktree before the first agent.
    pub setup: Vec<SetupCommand>,
    /// Spending limits: the run waits for a person when one is reached.
    pub budget: BudgetConfig,
    /// Stages after which the run waits for a person's approval (`ship`: before it).
    pub approvals: Vec<String>,
    /// Who is told when a run ends or waits.
    pub notify: Vec<NotifyConfig>,
    /// The `ci` stage: a pull request's checks watched, failures sent back to the agent.
    pub ci: CiConfig,
}

/// `ci` (SPEC §14): after ship opened a pull request, wait for its checks; on a failure, give
/// the failed jobs' logs to the fix agent, commit, push and wait again.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CiConfig {
    /// Watch the pull request's checks (off: the stage is skipped).
    pub watch: bool,
    /// Seconds a round may wait for its checks to finish before the stage ends as `ci_timeout`.
    pub timeout: Seconds,
    /// Seconds between two reads of the checks.
    pub poll: Ranged<1, 3_600>,
    /// Rounds of checks watched at most (the first included): past the last failed one, the
    /// run fails as `ci_failed`.
    pub max_rounds: Ranged<1, 20>,
    /// Bytes of evidence kept per failed job's log.
    pub log_bytes: Ranged<1_024, 1_048_576>,
}

impl Default for CiConfig {
    fn default() -> Self {
        Self {
            watch: false,
            timeout: Ranged(1800),
            poll: Ranged(20),
            max_rounds: Ranged(3),
            log_bytes: Ranged(20 * 1024),
        }
    }
}

/// `notify[]`: one notifier (SPEC §16).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// The events it is told of (default: every one).
    pub on: Vec<NotifyEvent>,
    /// A URL the event is POSTed to.
    pub webhook: Option<IString>,
    /// The webhook's body: orx's JSON event, or Slack's `{"text": …}`.
    pub format: NotifyFormat,
    /// A command that gets the event (JSON) on its standard input.
    pub command: Option<Vec<IString>>,
    /// A desktop notification (`notify-send`, when present).
    pub desktop: bool,
}

/// What a notifier is told of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// The run succeeded.
    Succeeded,
    /// The run failed.
    Failed,
    /// The run waits for a person (a budget, an approval).
    Waiting,
    /// The run was cancelled.
    Cancelled,
    /// The run's driver stopped without ending it (its terminal closed); `resume` continues it.
    Interrupted,
}

/// `notify[].format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyFormat {
    /// orx's JSON event.
    #[default]
    Json,
    /// Slack's incoming-webhook body.
    Slack,
}

/// `budget`: limits checked before every agent call (SPEC §16).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// USD one run may spend.
    pub run_usd: Option<f64>,
    /// Tokens (input and output) one run may use.
    pub run_tokens: Option<u64>,
    /// USD the repository's runs may spend in a day (local time), together.
    pub day_usd: Option<f64>,
    /// Also stop an agent call in flight once its usage, as its stream shows it, reaches a
    /// limit (claude shows usage with each message; codex, gemini and copilot only at the end).
    pub hard: bool,
}

impl BudgetConfig {
    /// The limits, as a run's state records them (None: no limit set).
    pub fn limits(&self) -> Option<crate::protocol::BudgetLimits> {
        let l = crate::protocol::BudgetLimits {
            run_usd: self.run_usd,
            run_tokens: self.run_tokens,
            day_usd: self.day_usd,
        };
        (!l.is_empty()).then_some(l)
    }
}

/// `engine`: the default executor and model.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// The default executor.
    #[serde(rename = "type")]
    pub kind: ExecutorKind,
    /// Informational (kept for compatibility).
    pub enabled: bool,
    /// The binary of the default executor.
    pub binary: Option<IString>,
    /// Default agent timeout in seconds.
    pub timeout: Seconds,
    /// Default model.
    pub model: Option<IString>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            kind: ExecutorKind::Fake,
            enabled: true,
            binary: None,
            timeout: Ranged(600),
            model: None,
        }
    }
}

/// `executors`: one optional section per executor.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Executors {
    /// Codex CLI.
    pub codex: Option<ExecutorConfig>,
    /// Gemini CLI.
    pub gemini: Option<ExecutorConfig>,
    /// Claude Code.
    #[serde(alias = "claude_code")]
    pub claude: Option<ExecutorConfig>,
    /// Cursor Agent.
    pub cursor: Option<ExecutorConfig>,
    /// Copilot CLI.
    pub copilot: Option<ExecutorConfig>,
    /// The scripted agent.
    pub fake: Option<ExecutorConfig>,
}

impl Executors {
    /// The section for `kind`, if configured.
    pub fn get(&self, kind: ExecutorKind) -> Option<&ExecutorConfig> {
        match kind {
            ExecutorKind::Codex => self.codex.as_ref(),
            ExecutorKind::Gemini => self.gemini.as_ref(),
            ExecutorKind::Claude => self.claude.as_ref(),
            ExecutorKind::Cursor => self.cursor.as_ref(),
            ExecutorKind::Copilot => self.copilot.as_ref(),
            ExecutorKind::Fake => self.fake.as_ref(),
        }
    }
}

/// One executor's settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutorConfig {
    /// The binary (name on PATH or a path).
    pub bin: Option<IString>,
    /// Defaults for every stage routed to this executor.
    pub default: ExecutorDefaults,
    /// API key handed to the agent through its environment (never logged).
    pub api_key: Option<IString>,
    /// Extra command-line arguments.
    pub extra_args: Vec<IString>,
    /// Extra environment variables.
    pub env: BTreeMap<String, IString>,
    /// For `fake`: the scenario file (relative to the repository root).
    pub scenario: Option<IString>,
    /// Replaces orx's read-only flags for text stages (e.g. codex `["-s", "read-only"]`).
    pub text_mode_args: Option<Vec<IString>>,
    /// Replaces orx's editing flags for apply stages (e.g. claude
    /// `["--permission-mode", "acceptEdits"]` instead of `--dangerously-skip-permissions`).
    pub apply_mode_args: Option<Vec<IString>>,
}

/// `executors.<e>.default`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutorDefaults {
    /// Model name.
    pub model: Option<IString>,
    /// Reasoning effort (low, medium, high, …).
    pub reasoning_effort: Option<IString>,
    /// Output format hint for the CLI.
    pub output_format: Option<IString>,
}

/// `stages`: routing overrides per stage.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Stages {
    /// plan.
    pub plan: Option<StageRoute>,
    /// spec.
    pub spec: Option<StageRoute>,
    /// decompose.
    pub decompose: Option<StageRoute>,
    /// implement.
    pub implement: Option<StageRoute>,
    /// fix.
    pub fix: Option<StageRoute>,
    /// review.
    pub review: Option<StageRoute>,
    /// knowledge_update.
    pub knowledge_update: Option<StageRoute>,
}

impl Stages {
    /// The slot of an agent role, to set an override.
    pub fn get_mut(&mut self, role: &str) -> Option<&mut Option<StageRoute>> {
        match role {
            "plan" => Some(&mut self.plan),
            "spec" => Some(&mut self.spec),
            "decompose" => Some(&mut self.decompose),
            "implement" => Some(&mut self.implement),
            "fix" => Some(&mut self.fix),
            "review" => Some(&mut self.review),
            "knowledge_update" => Some(&mut self.knowledge_update),
            _ => None,
        }
    }

    /// The override for an agent role, if any.
    pub fn get(&self, role: &str) -> Option<&StageRoute> {
        match role {
            "plan" => self.plan.as_ref(),
            "spec" => self.spec.as_ref(),
            "decompose" => self.decompose.as_ref(),
            "implement" => self.implement.as_ref(),
            "fix" => self.fix.as_ref(),
            "review" => self.review.as_ref(),
            "knowledge_update" => self.knowledge_update.as_ref(),
            _ => None,
        }
    }
}

/// `stages.<stage>`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StageRoute {
    /// The executor for this stage.
    pub executor: Option<ExecutorKind>,
    /// The model for this stage.
    pub model: Option<IString>,
    /// The reasoning effort for this stage.
    pub reasoning_effort: Option<IString>,
    /// The agent timeout for this stage, in seconds.
    pub timeout: Option<Seconds>,
}

/// `git`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GitConfig {
    /// The branch runs start from (default: the branch checked out at the repository root).
    pub base_branch: Option<IString>,
    /// The remote to push to.
    pub remote: IString,
    /// Commit each item on the run branch.
    pub auto_commit: bool,
    /// Push the run branch when shipping.
    pub auto_push: bool,
    /// Open a pull request with `gh` when shipping.
    pub create_pr: bool,
    /// Open the pull request as a draft.
    pub pr_draft: bool,
}

impl Default for GitConfig {
    fn default() -> Self {
        Self {
            base_branch: None,
            remote: "origin".into(),
            auto_commit: true,
            auto_push: false,
            create_pr: false,
            pr_draft: true,
        }
    }
}

/// How failure evidence is extracted from a gate's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParserKind {
    /// ruff check (JSON output when orx adds the flag).
    Ruff,
    /// pytest.
    Pytest,
    /// cargo build/test/clippy.
    Cargo,
    /// eslint (its default, stylish output).
    Eslint,
    /// tsc (generic extraction for now).
    Tsc,
    /// Log tail and error-looking lines.
    Generic,
}

/// One entry of `gates`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Unique gate name.
    pub name: String,
    /// Disabled gates are not run.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The program.
    pub command: IString,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<IString>,
    /// A required gate's failure fails the attempt; an optional one is only reported.
    #[serde(default = "yes")]
    pub required: bool,
    /// Seconds before the gate is killed.
    #[serde(default = "gate_timeout")]
    pub timeout: Seconds,
    /// An auto-fix command run once before the gate is re-run.
    #[serde(default)]
    pub fix: Option<FixCommand>,
    /// How evidence is extracted (default: guessed from the command).
    #[serde(default)]
    pub parser: Option<ParserKind>,
    /// What a failure of this gate on the untouched base means (default: `compare`).
    #[serde(default)]
    pub baseline: BaselineMode,
}

/// `gates[].baseline`: how the gate's result on the untouched worktree, run once before the
/// first agent edits, is used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineMode {
    /// Failures already there are recorded; an item passes when it adds no new failure.
    #[default]
    Compare,
    /// The gate is not run on the base; every item must pass it outright.
    Ignore,
    /// A failure on the base stops the run before any agent call.
    RequireClean,
}

fn yes() -> bool {
    true
}

fn gate_timeout() -> Seconds {
    Ranged(600)
}

/// `gates[].fix`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixCommand {
    /// The program.
    pub command: IString,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<IString>,
}

/// Guardrail mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailMode {
    /// Everything is allowed except `forbidden_patterns`.
    #[default]
    Blacklist,
    /// Only `allowed_patterns` may change (and never `forbidden_patterns`).
    Allowlist,
}

/// `guardrails`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardrailsConfig {
    /// Check guardrails after each attempt.
    pub enabled: bool,
    /// blacklist or allowlist.
    pub mode: GuardrailMode,
    /// Paths that must never change.
    pub forbidden_patterns: Vec<String>,
    /// In allowlist mode, the only paths that may change.
    pub allowed_patterns: Vec<String>,
    /// At most this many changed files per item.
    pub max_files_changed: Ranged<1, 100_000>,
}

impl Default for GuardrailsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            mode: GuardrailMode::Blacklist,
            forbidden_patterns: [".env", ".env.*", "*secrets*", "*.pem", "*.key", ".git/**"]
                .map(String::from)
                .to_vec(),
            allowed_patterns: Vec::new(),
            max_files_changed: Ranged(50),
        }
    }
}

/// Verify mode per item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyMode {
    /// Gates may narrow their targets to the item's files.
    Fast,
    /// Gates run as configured.
    #[default]
    Full,
}

/// `run`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Attempts per item (implement + fixes).
    pub max_fix_attempts: Ranged<1, 10>,
    /// Stop the run at the first failed item.
    pub stop_on_first_failure: bool,
    /// At most this many backlog items (neighbours are merged above it).
    pub max_backlog_items: Ranged<1, 100>,
    /// At most this many review → implement loops.
    pub max_review_loops: Ranged<0, 10>,
    /// fast or full.
    pub per_item_verify: VerifyMode,
    /// Retries of transient agent errors.
    pub retry: RetryConfig,
    /// A fix continues the agent session of the item's previous call, when its CLI can, and
    /// sends only the new evidence.
    pub reuse_sessions: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            max_fix_attempts: Ranged(3),
            stop_on_first_failure: false,
            max_backlog_items: Ranged(10),
            max_review_loops: Ranged(2),
            per_item_verify: VerifyMode::Full,
            retry: RetryConfig::default(),
            reuse_sessions: true,
        }
    }
}

/// `run.retry`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Tries per agent call for transient errors.
    pub max_attempts: Ranged<1, 20>,
    /// First backoff delay in seconds (doubles each time).
    pub initial_delay: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: Ranged(3),
            initial_delay: 2.0,
        }
    }
}

/// Knowledge update mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnowledgeMode {
    /// Commit the accepted update.
    #[default]
    Auto,
    /// Write the diff without committing.
    Suggest,
    /// Skip the stage.
    Off,
}

/// `knowledge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnowledgeConfig {
    /// Run the knowledge update.
    pub enabled: bool,
    /// auto, suggest or off.
    pub mode: KnowledgeMode,
    /// The files with ORX marker blocks.
    pub files: Vec<String>,
    /// At most this many changed lines.
    pub max_changed_lines: Ranged<1, 10_000>,
}

impl Default for KnowledgeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            mode: KnowledgeMode::Auto,
            files: vec!["AGENTS.md".into(), "ARCHITECTURE.md".into()],
            max_changed_lines: Ranged(80),
        }
    }
}

/// `fallback`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FallbackConfig {
    /// Rules tried in order.
    pub rules: Vec<FallbackRule>,
}

/// `fallback.rules[]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackRule {
    /// Match this executor (any when absent).
    #[serde(default)]
    pub executor: Option<ExecutorKind>,
    /// Match this error kind (rate_limited, overloaded, network, auth, model_not_found, …).
    pub error: String,
    /// Switch to this model.
    #[serde(default)]
    pub model: Option<IString>,
    /// Switch to this executor.
    #[serde(default)]
    pub switch_to: Option<ExecutorKind>,
}

/// `pricing.<model>`: USD per million tokens.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Input tokens.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// Cached input tokens (default: the input price).
    #[serde(default)]
    pub cached_input: Option<f64>,
}

/// `dashboard`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardConfig {
    /// Bind address.
    pub host: String,
    /// Port.
    pub port: Ranged<1, 65_535>,
    /// Runs started by the dashboard at once; others queue.
    pub max_concurrent_runs: Ranged<1, 64>,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: Ranged(8421),
            max_concurrent_runs: Ranged(2),
        }
    }
}

/// `setup[]`: a command run in a new worktree before the first agent.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupCommand {
    /// The program.
    pub command: IString,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<IString>,
    /// Seconds before it is killed.
    #[serde(default = "gate_timeout")]
    pub timeout: Seconds,
}
