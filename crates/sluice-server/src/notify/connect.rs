//! The HTTP client callbacks are sent with, made so that the policy holds on the address actually
//! connected to: a name is resolved here and only the addresses the policy admits reach the
//! connector (a name that resolves elsewhere at delivery than at the run's start, DNS rebinding,
//! gains nothing); redirects are not followed; no proxy from the environment is used.

use super::policy::{Policy, Refused};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

/// A client whose every connection is to an address `policy` admits. A URL with an address
/// written in it goes through no resolver: the caller checks it with `Policy::check_url`.
pub fn client(policy: Arc<Policy>, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
        // A redirect leads where no start check looked: a 3xx is the receiver's answer.
        .redirect(reqwest::redirect::Policy::none())
        // Through a proxy, the proxy is what is connected to and the receiver is never judged.
        .no_proxy()
        .dns_resolver(Admitted(policy))
        .build()
}

/// Resolves with the system's resolver and keeps what the policy admits; none left is an error
/// naming each refusal.
struct Admitted(Arc<Policy>);

impl Resolve for Admitted {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            // Port 0: the connector puts the URL's port in.
            let addrs = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let kept: Addrs = Box::new(policy.admit(&name, addrs)?.into_iter());
            Ok::<_, Box<dyn Error + Send + Sync>>(kept)
        })
    }
}

/// The policy's refusal behind a failed request, when that is why it failed.
pub fn refusal<'a>(e: &'a (dyn Error + 'static)) -> Option<&'a Refused> {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if let Some(r) = e.downcast_ref::<Refused>() {
            return Some(r);
        }
        cause = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NotifyConfig;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn policy(allow: &[&str], deny: &[&str]) -> Arc<Policy> {
        let c = NotifyConfig {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
            ..NotifyConfig::default()
        };
        Arc::new(Policy::from_config(&c).unwrap())
    }

    /// A loopback receiver answering every connection with `answer`; counts connections.
    async fn receiver(answer: String) -> (u16, Arc<AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(answer.as_bytes()).await;
                });
            }
        });
        (port, seen)
    }

    const OK: &str = "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";

    #[tokio::test]
    async fn a_name_is_judged_on_the_address_connected_to() {
        let (port, seen) = receiver(OK.into()).await;
        let url = format!("http://localhost:{port}/hook");
        // The name is allowed; its addresses are denied, and the deny wins before any connection.
        let c = client(
            policy(&["localhost"], &["127.0.0.0/8", "::1/128"]),
            Duration::from_secs(5),
        );
        let e = c.unwrap().post(&url).send().await.unwrap_err();
        assert!(
            matches!(refusal(&e), Some(Refused::NoAddressLeft { host, .. }) if host == "localhost"),
            "{e:?}"
        );
        assert_eq!(seen.load(Ordering::SeqCst), 0);
        // The same client without the deny reaches the receiver: the refusal was the policy's.
        let c = client(policy(&["localhost"], &[]), Duration::from_secs(5)).unwrap();
        assert_eq!(c.post(&url).send().await.unwrap().status(), 204);
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn redirects_are_answers_not_followed() {
        let (second, second_seen) = receiver(OK.into()).await;
        let moved = format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{second}/hook\r\n\
             content-length: 0\r\nconnection: close\r\n\r\n"
        );
        let (first, _) = receiver(moved).await;
        let c = client(Arc::new(Policy::default()), Duration::from_secs(5)).unwrap();
        let resp = c
            .post(format!("http://127.0.0.1:{first}/hook"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        assert_eq!(second_seen.load(Ordering::SeqCst), 0);
    }
}
