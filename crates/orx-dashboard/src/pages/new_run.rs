//! The new-run page (`/runs/new`) and the form it posts (`POST /runs`).

use std::collections::HashMap;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use crate::Shared;
use crate::highlight::escape;
use crate::queue::StartRequest;
use crate::view::{Chrome, render};

/// The engines the form offers (empty: the one orx.yaml names).
const ENGINES: [&str; 7] = ["", "fake", "codex", "claude", "gemini", "cursor", "copilot"];

#[derive(Serialize)]
struct NewRunPage {
    #[serde(flatten)]
    chrome: Chrome,
    repo: String,
    engines: [&'static str; 7],
    roles: &'static [&'static str],
    max: usize,
    pipelines: [&'static str; 3],
}

/// `GET /runs/new`.
pub async fn new_run(State(state): State<Shared>) -> Response {
    let page = NewRunPage {
        chrome: Chrome {
            title: "New run".into(),
            csrf: state.csrf.clone(),
            nav: "new",
        },
        repo: state.opts.repo.display().to_string(),
        engines: ENGINES,
        roles: &orx_core::config::ROLES,
        max: state.queue.max(),
        pipelines: orx_core::protocol::BUILTIN_PIPELINES,
    };
    Html(render("new_run.html", &page)).into_response()
}

/// The new-run form's fields as a request.
pub fn form_request(form: &HashMap<String, String>) -> StartRequest {
    let get = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut stages = Vec::new();
    for role in orx_core::config::ROLES {
        let exec = get(&format!("stage_{role}_executor")).unwrap_or_default();
        let model = get(&format!("stage_{role}_model"));
        match (exec.is_empty(), model) {
            (true, None) => {}
            (_, Some(m)) => stages.push(format!("{role}={exec}:{m}")),
            (false, None) => stages.push(format!("{role}={exec}")),
        }
    }
    StartRequest {
        task: form.get("task").cloned().unwrap_or_default(),
        repo: get("repo"),
        engine: get("engine"),
        model: get("model"),
        base_branch: get("base_branch"),
        pipeline: get("pipeline"),
        stages,
        follows: None,
    }
}

/// `POST /runs` (the form, sent by htmx): queues the run and sends the browser to its page.
pub async fn start(
    State(state): State<Shared>,
    headers: axum::http::HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match state.queue.enqueue(form_request(&form)) {
        Ok(id) => {
            state.live.notify("*");
            let url = format!("/runs/{id}");
            // htmx follows HX-Redirect (a 303 would be followed inside its request instead).
            let htmx = headers.contains_key("hx-request");
            let mut r = if htmx {
                StatusCode::NO_CONTENT.into_response()
            } else {
                StatusCode::SEE_OTHER.into_response()
            };
            if let Ok(v) = HeaderValue::from_str(&url) {
                let name = if htmx { "hx-redirect" } else { "location" };
                r.headers_mut().insert(name, v);
            }
            r
        }
        Err(e) => {
            // htmx shows this fragment in the form's message area.
            let html = format!(
                "<p class=\"error\" role=\"alert\">{}<br><small>{}</small></p>",
                escape(&e.message),
                escape(&e.fix)
            );
            let mut r = (StatusCode::OK, Html(html)).into_response();
            r.headers_mut()
                .insert("hx-retarget", HeaderValue::from_static("#form-message"));
            r
        }
    }
}
