//! `orx dashboard`: serve the web UI for this repository's runs.

use crate::command_error::{CommandError, Exit, Outcome};
use orx_dashboard::security::{is_loopback, random_token};

use super::Env;
use clap::Args;

/// `orx dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// The address to bind (default: dashboard.host, 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub host: Option<String>,
    /// The port (default: dashboard.port, 8421; 0 picks a free one).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Open the dashboard in the default browser.
    #[arg(long)]
    pub open: bool,
    /// The access token (at least 16 characters; default: a random one on a non-loopback bind).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "ORX_DASHBOARD_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Runs started from the dashboard at once (default: dashboard.max_concurrent_runs, 2).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub max_concurrent_runs: Option<u16>,
}

/// `orx dashboard`.
pub fn dashboard(env: &Env, args: DashboardArgs) -> Outcome {
    let repo = env.repo()?;
    let config = env.config(&repo)?;
    let dc = &config.config.dashboard;
    let host = args.host.clone().unwrap_or_else(|| dc.host.clone());
    let port = args.port.unwrap_or(dc.port.get() as u16);
    let loopback = is_loopback(&host);
    // A non-loopback bind always needs a token; on loopback one can be asked for.
    let token = match (args.token.clone(), loopback) {
        (Some(t), _) if t.len() < 16 => {
            return Err(CommandError::usage(
                "the dashboard token is shorter than 16 characters",
                "leave --token out to get a random one",
            ));
        }
        (Some(t), _) => Some(t),
        (None, false) => Some(random_token()),
        (None, true) => None,
    };
    let opts = orx_dashboard::Options {
        repo: repo.clone(),
        launcher: std::sync::Arc::new(crate::driver::OrxDriver::launcher(env.config_flag.clone())?),
        max_concurrent_runs: args
            .max_concurrent_runs
            .map(usize::from)
            .unwrap_or(dc.max_concurrent_runs.get() as usize),
        token: token.clone(),
    };
    let printer = &env.printer;
    let open = args.open;
    orx_dashboard::run_blocking(&host, port, opts, |addr| {
        let shown = if addr.ip().is_unspecified() {
            format!("{}:{}", hostname(), addr.port())
        } else {
            addr.to_string()
        };
        let url = match &token {
            Some(t) => format!("http://{shown}/?token={t}"),
            None => format!("http://{shown}/"),
        };
        printer.result(&format!("orx dashboard: {url}"));
        printer.info(&format!(
            "serving the runs of {} (Ctrl-C to stop; runs go on without it)",
            repo.display()
        ));
        if token.is_some() && !loopback {
            printer.warn("bound beyond this machine: every request needs the token in that URL");
        }
        if open {
            let opener = orx_core::process::ProcessSpec::new("xdg-open", [url.as_str()]);
            if let Ok(mut child) = orx_core::process::spawn_detached(&opener) {
                std::thread::spawn(move || child.wait());
            }
        }
    })
    .map_err(|e| {
        let fix = if e.kind() == std::io::ErrorKind::AddrInUse {
            format!("port {port} is taken: pass --port with another one (0 picks a free one)")
        } else {
            "check --host and --port".to_string()
        };
        CommandError::usage(format!("cannot serve on {host}:{port}: {e}"), fix)
    })?;
    Ok(Exit::Ok)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
