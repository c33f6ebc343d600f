//! `GET /api/v1/genesis`: the chain's geth-style genesis JSON.

use super::{ApiState, error};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use std::sync::Arc;

pub(super) async fn genesis(State(state): State<Arc<ApiState>>) -> Response {
    match &state.spec.genesis {
        Some(doc) => Json(doc.json().clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("the genesis file of {} is not bundled (its allocation is large); use the one shipped with Bor", state.spec.name),
        ),
    }
}
