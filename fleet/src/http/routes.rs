//! What each path answers: `POST /v1/reports` takes a signed report; the `GET` paths answer
//! the admin's questions as JSON; `/` is the dashboard.
//!
//! Invariant: only `POST /v1/reports` accepts a body (at most a report's bound); every
//! other request is read-only. Query answers come from the same functions as the CLI's.

use std::sync::{Arc, Mutex};

use serde_json::json;
use updater::limits::MAX_REPORT_BYTES;
use updater::rollout::policy::Policy;

use crate::collector::{Answer, Collector};
use crate::dashboard;
use crate::db::{Db, DbError};
use crate::http::server::{Handler, Request, Response};
use crate::query;

/// The routes of `fleet serve`.
pub struct Routes {
    pub collector: Collector,
    pub reader: Mutex<Db>,
    /// The signed policy, for the planned ramp on the dashboard.
    pub policy: Option<Arc<Policy>>,
    /// A device not done with a release is silent after this many seconds without news.
    pub silent_after: i64,
}

impl Handler for Routes {
    fn max_body(&self, method: &str, path: &str) -> usize {
        if method == "POST" && path == "/v1/reports" {
            MAX_REPORT_BYTES
        } else {
            0
        }
    }

    fn too_large(&self) -> Response {
        answer(Answer::too_large())
    }

    fn handle(&self, request: &Request) -> Response {
        let path = request.path.as_str();
        match (request.method.as_str(), path) {
            ("POST", "/v1/reports") => {
                let json = request.content_type.as_deref().is_some_and(|t| {
                    t.split(';')
                        .next()
                        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
                });
                if !json {
                    return Response::json(
                        415,
                        &json!({"outcome": "unsupported_media_type", "detail": "send application/json"}),
                    );
                }
                answer(self.collector.submit(&request.body))
            }
            (_, "/v1/reports") => method_not_allowed(),
            ("GET", _) => self.get(request).unwrap_or_else(|e| {
                Response::json(
                    503,
                    &json!({"outcome": "unavailable", "detail": e.to_string()}),
                )
            }),
            _ => method_not_allowed(),
        }
    }
}

impl Routes {
    fn get(&self, request: &Request) -> Result<Response, DbError> {
        let mut db = self
            .reader
            .lock()
            .map_err(|_| DbError::ColumnType("a reader thread panicked".into()))?;
        let now = updater::datetime::UtcTime::now().unix();
        let silent_since = now - self.silent_after;
        let path = request.path.as_str();
        if path == "/" {
            let page = dashboard::page(
                &mut db,
                &request.query,
                self.policy.as_deref(),
                silent_since,
                now,
            )?;
            return Ok(Response {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: page.into_bytes(),
            });
        }
        if path == "/healthz" {
            return Ok(Response::json(200, &json!({"ok": true})));
        }
        if path == "/v1/devices" {
            let filter = match query::DeviceFilter::from_query(&request.query) {
                Ok(filter) => filter,
                Err(detail) => {
                    return Ok(Response::json(
                        400,
                        &json!({"outcome": "bad_request", "detail": detail}),
                    ))
                }
            };
            return Ok(Response::json(
                200,
                &json!({"devices": query::devices(&mut db, &filter)?}),
            ));
        }
        if path == "/v1/releases" {
            return Ok(Response::json(
                200,
                &json!({"releases": query::releases(&mut db)?}),
            ));
        }
        if path == "/v1/failures" {
            let limit = request
                .param("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(1000);
            let failures = query::failures(&mut db, request.param("release"), limit)?;
            return Ok(Response::json(200, &json!({"failures": failures})));
        }
        if let Some(rest) = path.strip_prefix("/v1/releases/") {
            if let Some(release) = rest.strip_suffix("/summary") {
                let summary = query::summary(&mut db, release, silent_since)?;
                return Ok(Response::json(
                    200,
                    &serde_json::to_value(summary).unwrap_or_default(),
                ));
            }
            if let Some(release) = rest.strip_suffix("/timeline") {
                return Ok(Response::json(
                    200,
                    &json!({"release": release, "points": query::timeline(&mut db, release)?}),
                ));
            }
        }
        Ok(Response::json(
            404,
            &json!({"outcome": "not_found", "detail": format!("no such path: {path}")}),
        ))
    }
}

fn answer(answer: Answer) -> Response {
    Response::json(answer.status, &answer.body)
}

fn method_not_allowed() -> Response {
    Response::json(
        405,
        &json!({"outcome": "method_not_allowed", "detail": "reports are POSTed to /v1/reports; everything else is GET"}),
    )
}
