//! What the request log says about a request: its method and path, and its query string with the
//! values of secret-looking keys masked, at every log level. Clients put session ids, keys and
//! tokens in query strings (`?key=`, `?icSessionId=`), and a log is read by more people than the
//! API is.

use axum::http::{Request, Uri};

/// Query keys whose values are never logged (compared case-insensitively, ignoring `_` and `-`).
const SECRET_KEYS: [&str; 14] = [
    "key",
    "apikey",
    "token",
    "accesstoken",
    "refreshtoken",
    "password",
    "passwd",
    "pwd",
    "secret",
    "clientsecret",
    "sessionid",
    "icsessionid",
    "signature",
    "auth",
];

fn is_secret(key: &str) -> bool {
    let norm: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_KEYS.contains(&norm.as_str())
        || norm.ends_with("token")
        || norm.ends_with("password")
        || norm.ends_with("secret")
}

/// The path and query of `uri` with secret values replaced by `***` (pairs left as written
/// otherwise, so the log still shows what was asked).
pub fn redacted(uri: &Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.path().to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret(&decoded(k)) => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{}?{}", uri.path(), pairs.join("&"))
}

fn decoded(key: &str) -> String {
    url::form_urlencoded::parse(key.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// The span of one request in the log.
pub fn span<B>(req: &Request<B>) -> tracing::Span {
    tracing::info_span!("request", method = %req.method(), uri = %redacted(req.uri()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_masked_and_the_rest_kept() {
        let uri: Uri =
            "/api/v2/job?taskId=7&icSessionId=abc&KEY=k1&api_key=z&x-auth-token=t&rowLimit=5"
                .parse()
                .unwrap();
        let shown = redacted(&uri);
        assert_eq!(
            shown,
            "/api/v2/job?taskId=7&icSessionId=***&KEY=***&api_key=***&x-auth-token=***&rowLimit=5"
        );
        for secret in ["abc", "k1", "=z", "=t"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let encoded: Uri = "/x?pass%77ord=hunter2".parse().unwrap();
        assert!(!redacted(&encoded).contains("hunter2"));
        assert_eq!(redacted(&"/healthz".parse().unwrap()), "/healthz");
    }
}
