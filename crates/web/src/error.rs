//! The web layer's one error type and the one place it becomes a response: the user's own
//! mistakes get a specific message, ours a generic page with a request id (details logged).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No (live) session: go and log in.
    #[error("not logged in")]
    Unauthenticated,
    /// The role may not use this page at all.
    #[error("your role does not give access to this page")]
    Forbidden,
    /// Missing, or outside the user's services (never revealed as "exists elsewhere").
    #[error("page not found")]
    NotFound,
    /// The form's CSRF token is missing or wrong.
    #[error("this form has expired or did not come from this site: go back, reload the page and submit it again")]
    Csrf,
    /// The user's request cannot be served as sent; the message says why.
    #[error("{0}")]
    BadRequest(String),
    /// The upload is larger than the limit.
    #[error("the file is larger than {0} MB: split it into smaller files and upload each")]
    TooLarge(u64),
    /// Ours: logged with detail, shown as a generic page.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
    /// The database cannot be reached or is overloaded right now
    /// ([`flsdb_store::StoreError::is_unavailable`]): 503 and a page saying to try again. The
    /// detail is logged.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
}

impl From<flsdb_store::StoreError> for WebError {
    fn from(e: flsdb_store::StoreError) -> Self {
        if e.is_unavailable() { WebError::Unavailable(e.to_string()) } else { WebError::Internal(e.into()) }
    }
}

/// An internal error caused by an unavailable database, however deeply wrapped.
fn unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|e| e.downcast_ref::<flsdb_store::StoreError>().is_some_and(|e| e.is_unavailable()))
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: String,
    request_id: Option<String>,
}

/// A short random id that ties a generic error page to its log line.
pub fn request_id() -> String {
    crate::auth::random_hex(6)
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let this = match self {
            WebError::Internal(e) if unavailable(&e) => WebError::Unavailable(format!("{e:#}")),
            other => other,
        };
        let (status, title) = match &this {
            WebError::Unauthenticated => return Redirect::to("/login").into_response(),
            WebError::Forbidden => (StatusCode::FORBIDDEN, "Not allowed"),
            WebError::NotFound => (StatusCode::NOT_FOUND, "Not found"),
            WebError::Csrf => (StatusCode::FORBIDDEN, "Form expired"),
            WebError::BadRequest(_) => (StatusCode::BAD_REQUEST, "Cannot do that"),
            WebError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "File too large"),
            WebError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
            WebError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "Temporarily unavailable"),
        };
        let page = match &this {
            WebError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database unavailable");
                ErrorPage {
                    title,
                    message: "The audit database cannot be reached just now, so this could not be done. \
                              Please try again in a minute. If you were saving a form, go back to it (your entries \
                              are still there), check the record in a new tab, and save again if your change is \
                              not in it."
                        .into(),
                    request_id: None,
                }
            }
            WebError::Internal(error) => {
                let id = request_id();
                tracing::error!(request_id = %id, error = format!("{error:#}"), "request failed");
                ErrorPage {
                    title,
                    message: "Something went wrong on our side. Nothing you entered is lost if you go back; \
                              please try again, and quote the request id below if it keeps happening."
                        .into(),
                    request_id: Some(id),
                }
            }
            other => ErrorPage { title, message: other.to_string(), request_id: None },
        };
        let body = page.render().unwrap_or_else(|_| title.to_owned());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return (status, [(axum::http::header::RETRY_AFTER, "30")], axum::response::Html(body)).into_response();
        }
        (status, axum::response::Html(body)).into_response()
    }
}
