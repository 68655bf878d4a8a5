//! Which receivers callbacks may go to, judged on addresses in one form: the inside of a host
//! (link-local and cloud metadata, "this host", unspecified, multicast, broadcast) is refused by
//! default; loopback and private networks are allowed (a self-hosted server calls back to its
//! neighbours); `notify.allow` and `notify.deny` narrow that with host names (`hooks.example.com`,
//! `*.example.com`) and networks (`10.0.0.0/8`). The addresses a name leads to are judged where
//! they are connected to (see `connect.rs`); the run's start judges them as they resolve then.

use super::address::{Addr, INSIDE};
use crate::config::NotifyConfig;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use url::{Host, Url};

/// How long the run's start waits for a name to resolve; past that it is judged by name alone
/// (delivery judges what it connects to anyway).
const START_LOOKUP: Duration = Duration::from_secs(5);

/// Why a callback may not go somewhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("`{url}` is not a callback URL: {reason}")]
    Url { url: String, reason: String },
    #[error("host `{0}` is in notify.deny")]
    DeniedHost(String),
    #[error("{0} is in notify.deny")]
    DeniedAddress(Addr),
    #[error("{addr} is {kind}, refused unless notify.allow names a network within {net}")]
    Inside {
        addr: Addr,
        kind: &'static str,
        net: IpNet,
    },
    #[error("{0} is not in notify.allow")]
    NotAllowed(String),
    #[error("`{host}` leads to no address callbacks may go to ({})", list(.refused))]
    NoAddressLeft { host: String, refused: Vec<Refused> },
}

fn list(refused: &[Refused]) -> String {
    let all: Vec<String> = refused.iter().map(Refused::to_string).collect();
    if all.is_empty() {
        "it resolves to none".into()
    } else {
        all.join("; ")
    }
}

/// Where a URL leads before any name is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A host name, lower case, without a trailing dot.
    Name(String),
    /// An address written in the URL: it goes through no resolver.
    Address(IpAddr),
}

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
        let name = host_name(s.strip_prefix('*').unwrap_or(s));
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

    fn names(&self, host: &str) -> bool {
        match self {
            Rule::Host(p) if p.starts_with('.') => host.ends_with(p.as_str()),
            Rule::Host(p) => host == p,
            Rule::Net(_) => false,
        }
    }

    fn holds(&self, addr: &Addr) -> bool {
        match self {
            Rule::Net(net) => addr.forms().iter().any(|ip| net.contains(ip)),
            Rule::Host(_) => false,
        }
    }
}

/// A host name as rules see it: `Hooks.Example.com.` is `hooks.example.com` (a trailing dot
/// names the same host and must not slip past a rule).
fn host_name(s: &str) -> String {
    s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase()
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

    /// Whether a callback may be sent to `url` now: its own verdict ([`Policy::check_url`]),
    /// and a name's addresses as it resolves now. A name that does not resolve now is judged by
    /// name alone: delivery judges the addresses it connects to anyway.
    pub async fn check(&self, url: &str) -> Result<(), Refused> {
        let (Target::Name(name), port) = self.check_url(url)? else {
            return Ok(());
        };
        let lookup = tokio::net::lookup_host((name.as_str(), port));
        if let Ok(Ok(addrs)) = tokio::time::timeout(START_LOOKUP, lookup).await {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if !addrs.is_empty() {
                return self.admit(&name, addrs).map(drop);
            }
        }
        if self.allow.is_empty() || self.allow.iter().any(|r| r.names(&name)) {
            Ok(())
        } else {
            Err(Refused::NotAllowed(format!("host `{name}`")))
        }
    }

    /// The verdict on `url` before any name is resolved: its form, a host name against the name
    /// rules, an address written in it against everything. Answers where it leads and the port.
    pub fn check_url(&self, url: &str) -> Result<(Target, u16), Refused> {
        let refuse = |reason: &str| Refused::Url {
            url: url.into(),
            reason: reason.into(),
        };
        if url.len() > 2048 {
            return Err(refuse("longer than 2048 characters"));
        }
        let parsed = Url::parse(url).map_err(|e| refuse(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(refuse("not http or https"));
        }
        let port = parsed.port_or_known_default().unwrap_or(80);
        let target = match parsed.host() {
            Some(Host::Domain(d)) => {
                let name = host_name(d);
                self.check_name(&name)?;
                Target::Name(name)
            }
            Some(Host::Ipv4(ip)) => Target::Address(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Target::Address(IpAddr::V6(ip)),
            None => return Err(refuse("it has no host")),
        };
        if let Target::Address(ip) = target {
            self.check_address(None, ip)?;
        }
        Ok((target, port))
    }

    /// The addresses `name` resolved to that a callback may connect to; none left is refused,
    /// with each address's reason.
    pub fn admit(
        &self,
        name: &str,
        addrs: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Refused> {
        let name = host_name(name);
        self.check_name(&name)?;
        let (mut kept, mut refused) = (Vec::new(), Vec::new());
        for addr in addrs {
            match self.check_address(Some(&name), addr.ip()) {
                Ok(()) => kept.push(addr),
                Err(e) if !refused.contains(&e) => refused.push(e),
                Err(_) => {}
            }
        }
        if kept.is_empty() {
            Err(Refused::NoAddressLeft {
                host: name,
                refused,
            })
        } else {
            Ok(kept)
        }
    }

    /// The name rules: a denied name is refused; with an allow list of names only, a name on
    /// none of them is refused without resolving it.
    fn check_name(&self, name: &str) -> Result<(), Refused> {
        if self.deny.iter().any(|r| r.names(name)) {
            return Err(Refused::DeniedHost(name.into()));
        }
        let open = self.allow.is_empty()
            || self
                .allow
                .iter()
                .any(|r| matches!(r, Rule::Net(_)) || r.names(name));
        if open {
            Ok(())
        } else {
            Err(Refused::NotAllowed(format!("host `{name}`")))
        }
    }

    /// One address, reached through `name` or written as is. A deny wins over everything, the
    /// name's allow included; the inside is opened only by an allow network within it (so
    /// `0.0.0.0/0` does not open the metadata service).
    fn check_address(&self, name: Option<&str>, ip: IpAddr) -> Result<(), Refused> {
        let addr = Addr::new(ip);
        if self.deny.iter().any(|r| r.holds(&addr)) {
            return Err(Refused::DeniedAddress(addr));
        }
        let inside = INSIDE
            .iter()
            .find(|(net, _)| addr.forms().iter().any(|ip| net.contains(ip)));
        if let Some(&(net, kind)) = inside {
            let opened = self.allow.iter().any(|r| match r {
                Rule::Net(a) => net.contains(a) && r.holds(&addr),
                Rule::Host(_) => false,
            });
            if !opened {
                return Err(Refused::Inside { addr, kind, net });
            }
        }
        let allowed = self.allow.is_empty()
            || self
                .allow
                .iter()
                .any(|r| r.holds(&addr) || name.is_some_and(|n| r.names(n)));
        if allowed {
            Ok(())
        } else {
            Err(Refused::NotAllowed(addr.to_string()))
        }
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn sock(s: &str) -> SocketAddr {
        SocketAddr::new(ip(s), 0)
    }

    /// The address a refusal judged, for refusals about one address.
    fn judged(r: Result<(Target, u16), Refused>) -> Option<IpAddr> {
        match r {
            Err(Refused::DeniedAddress(a)) | Err(Refused::Inside { addr: a, .. }) => Some(a.judged),
            _ => None,
        }
    }

    #[tokio::test]
    async fn loopback_private_and_public_are_allowed_by_default() {
        let p = Policy::default();
        for url in [
            "http://127.0.0.1:9/cb",
            "http://[::1]/",
            "http://10.0.0.1/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://8.8.8.8/",
            "http://100.100.100.199/",
            "http://[fd00:ec2::253]/",
            "http://[2001:db8::1]/",
        ] {
            assert!(p.check(url).await.is_ok(), "{url}");
        }
        assert!(p.check_url("https://hooks.example.com/x").is_ok());
        for bad in ["ftp://example.com/", "not a url", "file:///etc/passwd"] {
            assert!(
                matches!(p.check(bad).await, Err(Refused::Url { .. })),
                "{bad}"
            );
        }
        let long = format!("http://a.example.com/{}", "x".repeat(2048));
        assert!(matches!(p.check_url(&long), Err(Refused::Url { .. })));
    }

    #[test]
    fn every_written_form_of_an_address_is_the_address() {
        let p = policy(&[], &["127.0.0.0/8"]);
        let loopback = Some(ip("127.0.0.1"));
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7F.1/",
            "http://0177.0.0.1/",
            "http://0177.1/",
            "http://127.1/",
            "http://127.0.1/",
            "http://127.000.000.001/",
            "http://127.0.0.1./",
            "http://%31%32%37.0.0.1/",
            "http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[0:0:0:0:0:ffff:127.0.0.1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
        ] {
            assert_eq!(judged(p.check_url(url)), loopback, "{url}");
        }
        // The same forms of the metadata address, refused with no configuration at all.
        let p = Policy::default();
        let metadata = Some(ip("169.254.169.254"));
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://2852039166/",
            "http://0xa9fea9fe/",
            "http://0xa9.0xfe.0xa9.0xfe/",
            "http://0251.0376.0251.0376/",
            "http://169.254.43518/",
            "http://169.16689662/",
            "http://169.254.169.254./",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[::169.254.169.254]/",
            "http://[64:ff9b::169.254.169.254]/",
        ] {
            assert_eq!(judged(p.check_url(url)), metadata, "{url}");
        }
    }

    #[test]
    fn the_inside_of_a_host_is_refused_by_default() {
        let p = Policy::default();
        for (url, net) in [
            ("http://0.0.0.0/", "0.0.0.0/8"),
            ("http://0/", "0.0.0.0/8"),
            ("http://0.1.2.3:8080/", "0.0.0.0/8"),
            ("http://[::ffff:0.0.0.0]/", "0.0.0.0/8"),
            ("http://[::]/", "::/128"),
            ("http://169.254.0.1/", "169.254.0.0/16"),
            ("http://[fe80::1]/", "fe80::/10"),
            ("http://[febf::1]/", "fe80::/10"),
            ("http://[fd00:ec2::254]/", "fd00:ec2::254/128"),
            ("http://100.100.100.200/", "100.100.100.200/32"),
            ("http://224.0.0.1/", "224.0.0.0/4"),
            ("http://239.255.255.250/", "224.0.0.0/4"),
            ("http://[ff02::1]/", "ff00::/8"),
            ("http://255.255.255.255/", "255.255.255.255/32"),
        ] {
            match p.check_url(url) {
                Err(Refused::Inside { net: n, .. }) => assert_eq!(n.to_string(), net, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
        }
        let e = p.check_url("http://[::ffff:169.254.169.254]/").unwrap_err();
        assert!(
            e.to_string()
                .contains("169.254.169.254 (as ::ffff:169.254.169.254) is link-local"),
            "{e}"
        );
    }

    #[test]
    fn only_an_allow_network_within_the_inside_opens_it() {
        let p = policy(&["169.254.169.254", "fe80::/64"], &[]);
        assert!(p.check_url("http://169.254.169.254/").is_ok());
        assert!(p.check_url("http://[::ffff:169.254.169.254]/").is_ok());
        assert!(p.check_url("http://[fe80::1]/").is_ok());
        assert!(p.check_url("http://169.254.169.253/").is_err());
        assert!(p.check_url("http://[fe80:0:0:1::1]/").is_err());
        // Everything is not an explicit allow of the inside.
        let p = policy(&["0.0.0.0/0", "::/0"], &[]);
        assert!(p.check_url("http://8.8.8.8/").is_ok());
        assert!(matches!(
            p.check_url("http://169.254.169.254/"),
            Err(Refused::Inside { .. })
        ));
        assert!(matches!(
            p.check_url("http://[fd00:ec2::254]/"),
            Err(Refused::Inside { .. })
        ));
        // Nor is a name on the allow list that resolves inside.
        let p = policy(&["metadata.internal"], &[]);
        let r = p.admit("metadata.internal", [sock("169.254.169.254")]);
        assert!(matches!(r, Err(Refused::NoAddressLeft { .. })), "{r:?}");
        // A deny wins over the explicit allow.
        let p = policy(&["169.254.0.0/16"], &["169.254.169.254"]);
        assert!(p.check_url("http://169.254.1.1/").is_ok());
        assert!(matches!(
            p.check_url("http://2852039166/"),
            Err(Refused::DeniedAddress(_))
        ));
    }

    #[test]
    fn a_name_keeps_only_the_addresses_the_policy_admits() {
        // Deny wins over the name's allow: the address connected to is what counts.
        let p = policy(&["localhost"], &["127.0.0.0/8", "::1/128"]);
        match p.admit("localhost", [sock("127.0.0.1"), sock("::1")]) {
            Err(Refused::NoAddressLeft { host, refused }) => {
                assert_eq!(host, "localhost");
                assert_eq!(refused.len(), 2, "{refused:?}");
            }
            other => panic!("{other:?}"),
        }
        let p = policy(&[], &["127.0.0.0/8"]);
        let kept = p.admit("mixed.example", [sock("127.0.0.1"), sock("10.0.0.1")]);
        assert_eq!(kept, Ok(vec![sock("10.0.0.1")]));
        // A name rebound to the metadata service, in any form, is left with nothing.
        let p = Policy::default();
        let r = p.admit(
            "rebind.example",
            [sock("::ffff:169.254.169.254"), sock("0.0.0.0")],
        );
        assert!(matches!(r, Err(Refused::NoAddressLeft { .. })), "{r:?}");
        assert!(p.admit("ok.example", [sock("192.168.0.10")]).is_ok());
    }

    #[tokio::test]
    async fn allow_and_deny_by_name_and_network() {
        let p = policy(
            &["*.example.com", "10.0.0.0/8", "localhost"],
            &["bad.example.com"],
        );
        assert!(p.check_url("https://a.example.com/").is_ok());
        for denied in ["https://bad.example.com/", "https://BAD.Example.com./x"] {
            assert!(
                matches!(p.check_url(denied), Err(Refused::DeniedHost(_))),
                "deny wins: {denied}"
            );
        }
        assert!(p.check("http://10.1.2.3/").await.is_ok());
        assert!(p.check("http://192.168.0.1/").await.is_err());
        assert!(
            p.check_url("http://other.org/").is_ok(),
            "its addresses decide"
        );
        // A name that does not resolve matches no network.
        assert!(matches!(
            p.check("http://nothing.invalid/").await,
            Err(Refused::NotAllowed(_))
        ));
        assert!(
            Policy::default()
                .check("http://nothing.invalid/")
                .await
                .is_ok()
        );
        let names_only = policy(&["*.example.com"], &[]);
        assert!(matches!(
            names_only.check_url("http://other.org/"),
            Err(Refused::NotAllowed(_))
        ));
        // A name is checked against networks through what it resolves to.
        let p = policy(&[], &["127.0.0.0/8", "::1"]);
        assert!(matches!(
            p.check("http://localhost:1/").await,
            Err(Refused::NoAddressLeft { .. })
        ));
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
