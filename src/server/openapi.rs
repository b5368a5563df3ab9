//! The OpenAPI document, derived from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

use super::api;
use super::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(title = "incident", description = "Incident store JSON API"),
    paths(
        api::health, api::create, api::list, api::show, api::update, api::resolve, api::close,
        api::reopen, api::note, api::report, api::patterns, api::pattern, api::analyze,
        api::kb_inputs_handler, api::kb_suggest, api::migrate, api::import, api::export, api::tokens,
        api::token_create, api::token_revoke, api::events, api::outbox, api::outbox_retry,
    ),
    components(schemas(
        ErrorBody, api::Health, api::CreateRequest, api::Created, api::Page, api::UpdateRequest,
        api::ResolveRequest, api::AtRequest, api::ReopenRequest, api::NoteRequest,
        api::ReportFormat, api::ReportRequest, api::PatternDetail, api::AnalyzeRequest,
        api::KbInputs, api::KbSuggestion, api::TokenRequest, api::TokenCreated,
        api::RetryRequest, api::Retried,
    )),
    modifiers(&Bearer),
    security(("bearer" = []))
)]
pub(crate) struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub(crate) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
