//! Which receivers callbacks may go to: any http(s) URL by default (loopback included: a
//! self-hosted server calls back to its neighbours), narrowed by `notify.allow` and `notify.deny`
//! lists of host names (`hooks.example.com`, `*.example.com`) and networks (`10.0.0.0/8`).

use crate::config::NotifyConfig;
use ipnet::IpNet;
use std::net::IpAddr;
use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// A host name, lower case; `*.example.com` is kept as `.example.com`.
    Host(String),
    Net(IpNet),
}

impl Rule {
    fn parse(s: &str) -> Result<Rule, String> {
        let s = s.trim();
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(Rule::Net(net));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Rule::Net(IpNet::from(ip)));
        }
        let name = s.strip_prefix('*').unwrap_or(s).to_ascii_lowercase();
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if valid {
            Ok(Rule::Host(name))
        } else {
            Err(format!("`{s}` is not a host name, address or network"))
        }
    }

    fn matches(&self, host: Option<&str>, ips: &[IpAddr]) -> bool {
        match self {
            Rule::Host(pattern) => host.is_some_and(|h| {
                if pattern.starts_with('.') {
                    h.ends_with(pattern.as_str())
                } else {
                    h == pattern
                }
            }),
            Rule::Net(net) => ips.iter().any(|ip| net.contains(ip)),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
    allow: Vec<Rule>,
    deny: Vec<Rule>,
}

impl Policy {
    /// The configured policy; an entry that is none of the forms is a configuration error.
    pub fn from_config(c: &NotifyConfig) -> Result<Policy, String> {
        let rules = |list: &[String], key: &str| -> Result<Vec<Rule>, String> {
            list.iter()
                .map(|s| Rule::parse(s).map_err(|e| format!("notify.{key}: {e}")))
                .collect()
        };
        Ok(Policy {
            allow: rules(&c.allow, "allow")?,
            deny: rules(&c.deny, "deny")?,
        })
    }

    /// Whether a callback may go to `url`; the error says why not.
    pub async fn check(&self, url: &str) -> Result<(), String> {
        let parsed = Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || url.len() > 2048 {
            return Err(format!("`{url}` is not an http(s) URL"));
        }
        let (name, mut ips) = match parsed.host() {
            Some(Host::Domain(d)) => (Some(d.to_ascii_lowercase()), Vec::new()),
            Some(Host::Ipv4(ip)) => (None, vec![IpAddr::V4(ip)]),
            Some(Host::Ipv6(ip)) => (None, vec![IpAddr::V6(ip)]),
            None => return Err(format!("`{url}` has no host")),
        };
        let nets = self
            .allow
            .iter()
            .chain(&self.deny)
            .any(|r| matches!(r, Rule::Net(_)));
        if let (Some(name), true) = (&name, nets) {
            // Networks are about where the name leads; a name that does not resolve matches none.
            let port = parsed.port_or_known_default().unwrap_or(80);
            if let Ok(addrs) = tokio::net::lookup_host((name.as_str(), port)).await {
                ips.extend(addrs.map(|a| a.ip()));
            }
        }
        let host = name.as_deref();
        if self.deny.iter().any(|r| r.matches(host, &ips)) {
            return Err(format!("callbacks to `{url}` are refused by notify.deny"));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|r| r.matches(host, &ips)) {
            return Err(format!("callbacks to `{url}` are not in notify.allow"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> Policy {
        Policy::from_config(&NotifyConfig {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
            ..NotifyConfig::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn anything_http_by_default_loopback_included() {
        let p = Policy::default();
        assert!(p.check("http://127.0.0.1:9/cb").await.is_ok());
        assert!(p.check("https://hooks.example.com/x").await.is_ok());
        assert!(p.check("ftp://example.com/").await.is_err());
        assert!(p.check("not a url").await.is_err());
    }

    #[tokio::test]
    async fn allow_and_deny_by_name_and_network() {
        let p = policy(
            &["*.example.com", "10.0.0.0/8", "localhost"],
            &["bad.example.com"],
        );
        assert!(p.check("https://a.example.com/").await.is_ok());
        assert!(
            p.check("https://bad.example.com/").await.is_err(),
            "deny wins"
        );
        assert!(p.check("http://10.1.2.3/").await.is_ok());
        assert!(p.check("http://192.168.0.1/").await.is_err());
        assert!(p.check("http://other.org/").await.is_err());
        // A name is checked against networks through what it resolves to.
        let p = policy(&[], &["127.0.0.0/8", "::1"]);
        assert!(p.check("http://localhost:1/").await.is_err());
        assert!(p.check("http://127.0.0.1:1/").await.is_err());
        assert!(p.check("http://10.0.0.1/").await.is_ok());
    }

    #[test]
    fn a_bad_entry_is_a_configuration_error() {
        let c = NotifyConfig {
            allow: vec!["not a host!".into()],
            ..NotifyConfig::default()
        };
        assert!(
            Policy::from_config(&c)
                .unwrap_err()
                .contains("notify.allow")
        );
    }
}
