//! The operators admin API (admin token required): list, show, add or change, remove an
//! operator; replace the whole registry; reload the operators file; an operator's stats on this
//! instance. Changes apply on every instance within seconds (see [`crate::operators`]).

use super::{ApiState, error};
use crate::operators::EditError;
use axum::{
    Json,
    extract::{Path, State, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use hypasis_limits::{Limits, OperatorSpec, RegistryDoc, registry::key_hash};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// An operator as `PUT /api/v1/operators/NAME` takes it (the name is the path's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OperatorBody {
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    limits: Option<Limits>,
    /// API keys in clear: stored as their SHA-256 only.
    #[serde(default)]
    api_keys: Vec<String>,
    #[serde(default)]
    api_key_sha256: Vec<String>,
    #[serde(default)]
    node_ids: Vec<String>,
    #[serde(default)]
    trusted: bool,
}

fn failed(e: &EditError) -> Response {
    error(StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string())
}

fn bad_json(rejection: &JsonRejection) -> Response {
    error(StatusCode::BAD_REQUEST, format!("the body is not what this endpoint takes: {}", rejection.body_text()))
}

pub(super) async fn list(State(state): State<Arc<ApiState>>) -> Response {
    let (registry, version) = state.operators.current();
    Json(json!({ "source": state.operators.source(), "version": version, "registry": registry })).into_response()
}

pub(super) async fn show(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> Response {
    let (registry, version) = state.operators.current();
    let Some(spec) = registry.operators.iter().find(|o| o.name == name) else {
        return failed(&EditError::NotFound(name));
    };
    let limits = state.operators.fair_use().registry().by_name(&name).map(|o| o.limits);
    Json(json!({ "version": version, "operator": spec, "limits": limits })).into_response()
}

pub(super) async fn put(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    body: Result<Json<OperatorBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) => return bad_json(&rejection),
    };
    let mut hashes = body.api_key_sha256;
    hashes.extend(body.api_keys.iter().map(|key| hex::encode(key_hash(key))));
    let spec = OperatorSpec {
        name: name.clone(),
        tier: body.tier,
        limits: body.limits,
        api_key_sha256: hashes,
        node_ids: body.node_ids,
        trusted: body.trusted,
    };
    let stored = spec.clone();
    match state.operators.edit("admin API", move |doc| Ok(doc.upsert(spec.clone()))).await {
        Ok((replaced, version)) => {
            tracing::info!(target: "api::admin", operator = %name, version, replaced, "operator stored");
            let status = if replaced { StatusCode::OK } else { StatusCode::CREATED };
            (status, Json(json!({ "version": version, "operator": stored }))).into_response()
        }
        Err(e) => failed(&e),
    }
}

pub(super) async fn delete(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> Response {
    let target = name.clone();
    let removed = state
        .operators
        .edit("admin API", move |doc| if doc.remove(&target) { Ok(()) } else { Err(EditError::NotFound(target.clone())) })
        .await;
    match removed {
        Ok(((), version)) => {
            tracing::info!(target: "api::admin", operator = %name, version, "operator removed");
            Json(json!({ "version": version, "removed": name })).into_response()
        }
        Err(e) => failed(&e),
    }
}

pub(super) async fn replace(State(state): State<Arc<ApiState>>, body: Result<Json<RegistryDoc>, JsonRejection>) -> Response {
    let mut doc = match body {
        Ok(Json(doc)) => doc,
        Err(rejection) => return bad_json(&rejection),
    };
    // Read as the file is: no `anonymous` section means the default budget, not none.
    doc.default_anonymous();
    let operators = doc.operators.len();
    match state
        .operators
        .edit("admin API", move |current| {
            *current = doc.clone();
            Ok(())
        })
        .await
    {
        Ok(((), version)) => {
            tracing::info!(target: "api::admin", version, operators, "operators registry replaced");
            Json(json!({ "version": version, "operators": operators })).into_response()
        }
        Err(e) => failed(&e),
    }
}

pub(super) async fn reload(State(state): State<Arc<ApiState>>) -> Response {
    match state.operators.reload_file(true).await {
        Ok(version) => {
            let version = version.unwrap_or_else(|| state.operators.current().1);
            let operators = state.operators.fair_use().registry().operators().count();
            tracing::info!(target: "api::admin", version, operators, "operators file reloaded");
            Json(json!({ "version": version, "operators": operators })).into_response()
        }
        Err(e) => {
            if !matches!(e, EditError::NoFile) {
                metrics::counter!("hypasis_limits_reload_errors_total").increment(1);
            }
            failed(&e)
        }
    }
}

pub(super) async fn stats(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> Response {
    match state.operators.fair_use().stats(&name) {
        Some(stats) => Json(json!({ "instance": state.instance_id, "stats": stats })).into_response(),
        None => failed(&EditError::NotFound(name)),
    }
}
