//! Prometheus-format metrics. Labels are route templates and status codes
//! only: never a path with ids in it, never patient data.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), (u64, f64)>>,
}

pub async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let res = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    if let Ok(mut m) = state.metrics.requests.lock() {
        let e = m.entry((route, res.status().as_u16())).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += secs;
    }
    res
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String)))]
pub async fn render(State(state): State<AppState>) -> String {
    let mut out = String::from(
        "# HELP clinic_http_requests_total HTTP requests by route and status.\n# TYPE clinic_http_requests_total counter\n",
    );
    let snapshot: Vec<_> = state
        .metrics
        .requests
        .lock()
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default();
    for ((route, status), (n, _)) in &snapshot {
        out.push_str(&format!(
            "clinic_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}\n"
        ));
    }
    out.push_str("# HELP clinic_http_request_seconds_sum Time spent serving requests.\n# TYPE clinic_http_request_seconds_sum counter\n");
    for ((route, status), (_, secs)) in &snapshot {
        out.push_str(&format!(
            "clinic_http_request_seconds_sum{{route=\"{route}\",status=\"{status}\"}} {secs:.6}\n"
        ));
    }
    let status = state.pool.status();
    out.push_str(&format!(
        "# HELP clinic_db_pool_connections Database connections in the pool.\n# TYPE clinic_db_pool_connections gauge\nclinic_db_pool_connections{{state=\"open\"}} {}\nclinic_db_pool_connections{{state=\"idle\"}} {}\n",
        status.size, status.available
    ));
    out.push_str(&format!(
        "# HELP clinic_password_checks Password hashes being computed, or waiting for a CPU.\n# TYPE clinic_password_checks gauge\nclinic_password_checks{{state=\"running\"}} {}\nclinic_password_checks{{state=\"waiting\"}} {}\n",
        state.passwords.running(),
        state.passwords.waiting()
    ));
    out.push_str(&format!(
        "# HELP clinic_anonymous_db Requests from nobody signed in (sign-in, refresh, sign-out) holding a database connection, or waiting for one of their share.\n# TYPE clinic_anonymous_db gauge\nclinic_anonymous_db{{state=\"holding\"}} {}\nclinic_anonymous_db{{state=\"waiting\"}} {}\n",
        state.anonymous.inside(),
        state.anonymous.waiting()
    ));
    out
}
