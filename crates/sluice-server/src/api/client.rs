//! Who is calling from where: the request's surface and the client's address, for sign-in
//! throttling and the audit log. The address is the connection's peer; `X-Forwarded-For` is
//! believed only from the proxies the operator lists in `signin.trusted_proxies` (anyone else
//! could write any address there and so escape the per-address throttle).

use super::surface::Surface as PathSurface;
use crate::domain::audit::{Client, Surface};
use crate::service::App;
use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// The caller's [`Client`]; never refuses a request.
pub struct RequestClient(pub Client);

impl FromRequestParts<App> for RequestClient {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(RequestClient(client_of(parts, app)))
    }
}

/// The client of a request (its parts).
pub fn client_of(parts: &Parts, app: &App) -> Client {
    // Nested routers see their path without the prefix; the surface is told by the whole one.
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map(|u| u.0.path())
        .unwrap_or_else(|| parts.uri.path());
    let surface = match PathSurface::of_path(path) {
        PathSurface::Native | PathSurface::Monitor => Surface::Native,
        PathSurface::IicsV2 => Surface::IicsV2,
        PathSurface::IicsV3 => Surface::IicsV3,
        PathSurface::Starfish => Surface::Starfish,
    };
    // Served without connection info (tests calling the router directly): no address.
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let proxies = &app.config.signin.trusted_proxies;
    let addr = match peer {
        Some(peer) if !proxies.is_empty() => Some(forwarded_client(
            peer,
            &parts.headers,
            &app.config.signin.proxy_networks(),
        )),
        other => other,
    };
    Client { surface, addr }
}

/// The client behind trusted proxies: walking `X-Forwarded-For` from the nearest hop, the first
/// address that is not a trusted proxy. A hop that does not read as an address ends the walk at
/// the last one that did (a proxy we trust wrote everything to its right).
fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers(&["203.0.113.5, 10.1.1.1"]);
        // From a trusted proxy: the nearest hop that is not a proxy.
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), &h, &trusted),
            ip("203.0.113.5")
        );
        // From anyone else the header is the caller's own claim.
        assert_eq!(
            forwarded_client(ip("198.51.100.9"), &h, &trusted),
            ip("198.51.100.9")
        );
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), &h, &[]),
            ip("10.0.0.2"),
            "no trusted proxies: the peer"
        );
    }

    #[test]
    fn a_spoofed_leftmost_hop_does_not_win() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // The client wrote `1.2.3.4` itself; the proxy appended the address it saw.
        let h = headers(&["1.2.3.4", "203.0.113.5"]);
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), &h, &trusted),
            ip("203.0.113.5")
        );
        let garbage = headers(&["203.0.113.5, not-an-address, 10.3.3.3"]);
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), &garbage, &trusted),
            ip("10.3.3.3"),
            "the walk stops at what does not read as an address"
        );
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
    }
}
