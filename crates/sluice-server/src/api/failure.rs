//! A service error as every surface answers it, decided once: the status for each kind, the wait
//! before a retry, and the message a client may read. Client errors keep their precise message;
//! an internal error is logged with a reference and answered with only that reference, so store
//! and I/O text never reaches a client. Each surface wraps this in its own error shape.

use crate::service::ServiceError;
use axum::http::StatusCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: StatusCode,
    pub message: String,
    /// Seconds to wait before trying again (`Retry-After`), for a 429 or a 503.
    pub retry_after: Option<u64>,
}

impl From<&ServiceError> for Failure {
    fn from(e: &ServiceError) -> Failure {
        let status = match e {
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
            ServiceError::InvalidDefinition(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::Conflict(_) | ServiceError::TaskRunning(_) => StatusCode::CONFLICT,
            ServiceError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        let retry_after = match e {
            ServiceError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            ServiceError::Unavailable(_) => Some(1),
            _ => None,
        };
        let message = match e {
            ServiceError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "the store is unreachable");
                "the store is unreachable; try again in a moment".to_string()
            }
            ServiceError::Internal(cause) => {
                let reference = uuid::Uuid::now_v7().simple().to_string();
                tracing::error!(%reference, error = %cause, "internal error");
                format!(
                    "internal error; the server's log has its cause under reference {reference}"
                )
            }
            other => other.to_string(),
        };
        Failure {
            status,
            message,
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_causes_stay_in_the_log_and_client_errors_keep_their_words() {
        let internal = Failure::from(&ServiceError::Internal(
            "store: error returned from database: disk I/O error at /var/lib/sluice".into(),
        ));
        assert_eq!(internal.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !internal.message.contains("/var/lib"),
            "{}",
            internal.message
        );
        assert!(
            internal.message.contains("reference"),
            "{}",
            internal.message
        );
        let invalid = Failure::from(&ServiceError::Invalid("limit: must be 1..=1000".into()));
        assert_eq!(
            (invalid.status, invalid.message.as_str()),
            (StatusCode::BAD_REQUEST, "limit: must be 1..=1000")
        );
        let down = Failure::from(&ServiceError::Unavailable("connection refused".into()));
        assert_eq!(
            (down.status, down.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, Some(1))
        );
        assert!(!down.message.contains("refused"), "{}", down.message);
        let wait = Failure::from(&ServiceError::TooManyRequests {
            retry_after_secs: 7,
        });
        assert_eq!(wait.retry_after, Some(7));
    }
}
