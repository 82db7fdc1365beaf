//! The router: picks the adapter for a role's route, retries transient errors with backoff.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::cli::CliAgent;
use super::{Agent, AgentIo, AgentOutcome, AgentRequest, FakeAgent, builtin_scenario};
use crate::config::{Config, ExecutorKind, Route, RoutingTable};
use crate::{Error, Result};

/// Chooses and calls agents.
#[derive(Clone)]
pub struct Router {
    routing: RoutingTable,
    fake: Arc<FakeAgent>,
    retry_max: u32,
    retry_delay: Duration,
    clis: Vec<CliAgent>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("routing", &self.routing)
            .finish()
    }
}

/// One routed call's result.
#[derive(Clone, Debug)]
pub struct AgentCall {
    /// The route used.
    pub route: Route,
    /// The outcome of the last try.
    pub outcome: AgentOutcome,
    /// Tries made (transient errors are retried).
    pub tries: u32,
}

impl Router {
    /// A router for `routing`; the fake agent's scenario path is relative to `repo`.
    pub fn new(config: &Config, routing: RoutingTable, repo: &Path) -> Result<Self> {
        let fake = match config
            .executors
            .fake
            .as_ref()
            .and_then(|f| f.scenario.as_ref())
        {
            Some(p) if !p.is_empty() => FakeAgent::from_file(&repo.join(p.as_str()))?,
            _ => FakeAgent::new(builtin_scenario()),
        };
        let clis = ExecutorKind::ALL
            .iter()
            .filter(|k| **k != ExecutorKind::Fake)
            .map(|k| {
                let cfg = config.executors.get(*k);
                let bin = cfg
                    .and_then(|c| c.bin.as_ref())
                    .map(|b| b.to_string())
                    .or_else(|| {
                        (config.engine.kind == *k)
                            .then(|| config.engine.binary.as_ref().map(|b| b.to_string()))
                            .flatten()
                    })
                    .filter(|b| !b.is_empty())
                    .unwrap_or_else(|| k.default_binary().to_string());
                CliAgent {
                    kind: *k,
                    bin,
                    extra_args: cfg
                        .map(|c| c.extra_args.iter().map(|a| a.to_string()).collect())
                        .unwrap_or_default(),
                    env: cfg
                        .map(|c| {
                            c.env
                                .iter()
                                .map(|(k, v)| (k.clone(), v.to_string()))
                                .collect()
                        })
                        .unwrap_or_default(),
                    api_key: cfg.and_then(|c| c.api_key.as_ref()).map(|k| k.to_string()),
                }
            })
            .collect();
        Ok(Self {
            clis,
            routing,
            fake: Arc::new(fake),
            retry_max: config.run.retry.max_attempts.get() as u32,
            retry_delay: Duration::from_secs_f64(config.run.retry.initial_delay),
        })
    }

    /// A router that plays `fake` for every role (tests, the demo).
    pub fn with_fake(mut self, fake: FakeAgent) -> Self {
        self.fake = Arc::new(fake);
        self
    }

    /// The routing table.
    pub fn routing(&self) -> &RoutingTable {
        &self.routing
    }

    /// The route of `role`.
    pub fn route(&self, role: &str) -> Result<Route> {
        self.routing.get(role).cloned().ok_or_else(|| {
            Error::run(
                format!("no route for stage `{role}`"),
                "check the stages section of orx.yaml",
            )
        })
    }

    fn agent(&self, kind: ExecutorKind) -> Option<Arc<dyn Agent>> {
        match kind {
            ExecutorKind::Fake => Some(self.fake.clone()),
            other => self
                .clis
                .iter()
                .find(|c| c.kind == other)
                .map(|c| Arc::new(c.clone()) as Arc<dyn Agent>),
        }
    }

    /// Calls the agent routed for `req.role`, retrying transient errors with exponential
    /// backoff (they do not count as attempts). Model and timeout come from the route.
    pub fn call(&self, mut req: AgentRequest, io: &AgentIo) -> Result<AgentCall> {
        let route = self.route(&req.role)?;
        req.model = route.model.clone();
        req.reasoning_effort = route.reasoning_effort.clone();
        req.timeout = Duration::from_secs(route.timeout_secs);
        let agent = self.agent(route.executor).ok_or_else(|| {
            Error::run(
                format!("no adapter for `{}`", route.executor),
                "route the stage to another executor",
            )
        })?;
        let mut delay = self.retry_delay;
        let mut tries = 0;
        loop {
            tries += 1;
            let outcome = agent.run(&req, io)?;
            let transient = outcome
                .error
                .as_ref()
                .is_some_and(|e| e.kind.is_transient());
            if !transient || tries >= self.retry_max || io.cancel.is_cancelled() {
                return Ok(AgentCall {
                    route,
                    outcome,
                    tries,
                });
            }
            // Sleep in small steps so a cancel is honoured during the backoff.
            let until = std::time::Instant::now() + delay;
            while std::time::Instant::now() < until && !io.cancel.is_cancelled() {
                std::thread::sleep(Duration::from_millis(20));
            }
            delay = delay.saturating_mul(2).min(Duration::from_secs(120));
        }
    }
}
