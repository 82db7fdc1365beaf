//! The router: picks the adapter for a role's route, retries transient errors with backoff.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::cli::CliAgent;
use super::{
    Agent, AgentIo, AgentOutcome, AgentRequest, ErrorKind, FakeAgent, RouteError, Usage,
    builtin_scenario,
};
use crate::Result;
use crate::config::{Config, ExecutorKind, FallbackRule, Route, RoutingTable};

/// Chooses and calls agents.
#[derive(Clone)]
pub struct Router {
    routing: RoutingTable,
    fake: Arc<FakeAgent>,
    retry_max: u32,
    retry_delay: Duration,
    clis: Vec<CliAgent>,
    fallback: Vec<FallbackRule>,
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
    /// Tries made on the last route (transient errors are retried).
    pub tries: u32,
    /// Fallback rules applied before the last route.
    pub fallbacks: u32,
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
                    text_mode_args: cfg
                        .and_then(|c| c.text_mode_args.as_ref())
                        .map(|a| a.iter().map(|x| x.to_string()).collect()),
                    apply_mode_args: cfg
                        .and_then(|c| c.apply_mode_args.as_ref())
                        .map(|a| a.iter().map(|x| x.to_string()).collect()),
                }
            })
            .collect();
        Ok(Self {
            fallback: config.fallback.rules.clone(),
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
        self.routing
            .get(role)
            .cloned()
            .ok_or_else(|| RouteError::NoRoute(role.to_string()).into())
    }

    /// Whether `kind`'s agent continues its own sessions.
    pub fn resumes(&self, kind: ExecutorKind) -> bool {
        self.agent(kind).is_some_and(|a| a.resumes())
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
    pub fn call(&self, req: AgentRequest, io: &AgentIo) -> Result<AgentCall> {
        let mut route = self.route(&req.role)?;
        let mut fallbacks = Vec::new();
        // Tokens spent by routes that failed still count (metrics and cost).
        let mut spent = Usage::default();
        let mut spent_cost: Option<f64> = None;
        loop {
            let (mut outcome, tries) = self.call_route(&route, req.clone(), io)?;
            outcome.usage.add(&spent);
            if let Some(c) = spent_cost {
                outcome.cost_usd = Some(outcome.cost_usd.unwrap_or(0.0) + c);
            }
            // fallback.rules: on a matching error kind, switch model and/or executor (each rule
            // at most once per call, so rules cannot loop).
            let rule = outcome
                .error
                .as_ref()
                .filter(|e| e.kind != ErrorKind::Cancelled)
                .and_then(|e| {
                    self.fallback.iter().enumerate().find(|(i, r)| {
                        !fallbacks.contains(i)
                            && r.error == e.kind.as_str()
                            && r.executor.is_none_or(|x| x == route.executor)
                    })
                });
            let Some((i, rule)) = rule else {
                return Ok(AgentCall {
                    route,
                    outcome,
                    tries,
                    fallbacks: fallbacks.len() as u32,
                });
            };
            fallbacks.push(i);
            spent = outcome.usage;
            spent_cost = outcome.cost_usd;
            let executor = rule.switch_to.unwrap_or(route.executor);
            let model = match &rule.model {
                Some(m) => Some(m.to_string()),
                None if executor == route.executor => route.model.clone(),
                None => None,
            };
            route = Route {
                executor,
                model,
                ..route
            };
        }
    }

    /// One route, with retries of transient errors (exponential backoff, not an attempt).
    fn call_route(
        &self,
        route: &Route,
        mut req: AgentRequest,
        io: &AgentIo,
    ) -> Result<(AgentOutcome, u32)> {
        req.model = route.model.clone();
        req.reasoning_effort = route.reasoning_effort.clone();
        req.timeout = Duration::from_secs(route.timeout_secs);
        let agent = self
            .agent(route.executor)
            .ok_or(RouteError::NoAdapter(route.executor))?;
        let mut delay = self.retry_delay;
        let mut tries = 0;
        let mut spent = Usage::default();
        let mut spent_cost: Option<f64> = None;
        loop {
            tries += 1;
            let mut outcome = agent.run(&req, io)?;
            outcome.usage.add(&spent);
            if let Some(c) = spent_cost {
                outcome.cost_usd = Some(outcome.cost_usd.unwrap_or(0.0) + c);
            }
            let transient = outcome
                .error
                .as_ref()
                .is_some_and(|e| e.kind.is_transient());
            if !transient || tries >= self.retry_max || io.cancel.is_cancelled() {
                return Ok((outcome, tries));
            }
            spent = outcome.usage;
            spent_cost = outcome.cost_usd;
            // Sleep in small steps so a cancel is honoured during the backoff.
            let until = std::time::Instant::now() + delay;
            while std::time::Instant::now() < until && !io.cancel.is_cancelled() {
                std::thread::sleep(Duration::from_millis(20));
            }
            delay = delay.saturating_mul(2).min(Duration::from_secs(120));
        }
    }
}
