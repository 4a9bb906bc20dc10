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
}

impl From<flsdb_store::StoreError> for WebError {
    fn from(e: flsdb_store::StoreError) -> Self {
        WebError::Internal(e.into())
    }
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
        let (status, title) = match &self {
            WebError::Unauthenticated => return Redirect::to("/login").into_response(),
            WebError::Forbidden => (StatusCode::FORBIDDEN, "Not allowed"),
            WebError::NotFound => (StatusCode::NOT_FOUND, "Not found"),
            WebError::Csrf => (StatusCode::FORBIDDEN, "Form expired"),
            WebError::BadRequest(_) => (StatusCode::BAD_REQUEST, "Cannot do that"),
            WebError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "File too large"),
            WebError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
        };
        let page = match &self {
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
        (status, axum::response::Html(body)).into_response()
    }
}
