//! Addresses in the one form the callback policy judges them in, and the networks that are the
//! inside of a host.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> IpNet {
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len))
}

const fn v6(s: [u16; 8], len: u8) -> IpNet {
    let ip = Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
    IpNet::V6(Ipv6Net::new_assert(ip, len))
}

/// The inside of a host, refused unless `notify.allow` names a network within one of them.
pub const INSIDE: [(IpNet, &str); 9] = [
    (v4(0, 0, 0, 0, 8), "\"this host\""),
    (
        v4(169, 254, 0, 0, 16),
        "link-local (cloud metadata answers there)",
    ),
    (v4(100, 100, 100, 200, 32), "a cloud metadata service"),
    (v4(224, 0, 0, 0, 4), "multicast"),
    (v4(255, 255, 255, 255, 32), "broadcast"),
    (v6([0; 8], 128), "unspecified"),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "link-local"),
    (
        v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128),
        "a cloud metadata service",
    ),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
];

/// The one form an address is judged in: an IPv6 address that stands for an IPv4 one is that
/// IPv4 address. IPv4-mapped (`::ffff:a.b.c.d`: a dual-stack socket connects to the IPv4
/// address), IPv4-compatible (`::a.b.c.d`, deprecated but still written) and the NAT64
/// well-known prefix (`64:ff9b::a.b.c.d`, translated by a NAT64 gateway). `::` and `::1` are
/// IPv6's own. The `url` crate already reads IPv4's decimal, hex, octal and short forms.
pub fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(six) = ip else { return ip };
    if let Some(four) = six.to_ipv4_mapped() {
        return IpAddr::V4(four);
    }
    let bits = u128::from(six);
    let s = six.segments();
    let compatible = s[..6] == [0; 6] && bits > 1;
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    if compatible || nat64 {
        IpAddr::V4(Ipv4Addr::from(bits as u32))
    } else {
        ip
    }
}

/// An address as written or resolved, and the form it is judged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr {
    pub given: IpAddr,
    pub judged: IpAddr,
}

impl Addr {
    pub fn new(given: IpAddr) -> Addr {
        Addr {
            given,
            judged: canonical(given),
        }
    }

    pub fn forms(&self) -> [IpAddr; 2] {
        [self.judged, self.given]
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.given == self.judged {
            write!(f, "{}", self.judged)
        } else {
            write!(f, "{} (as {})", self.judged, self.given)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_forms_of_an_ipv4_address_are_that_address() {
        for (given, judged) in [
            ("::ffff:127.0.0.1", "127.0.0.1"),
            ("::ffff:a9fe:a9fe", "169.254.169.254"),
            ("::10.0.0.1", "10.0.0.1"),
            ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
            ("::2", "0.0.0.2"),
            ("10.0.0.1", "10.0.0.1"),
        ] {
            assert_eq!(canonical(ip(given)), ip(judged), "{given}");
        }
        // IPv6's own loopback and unspecified addresses are not IPv4-compatible ones; other
        // IPv6 addresses stay as they are.
        for own in [
            "::1",
            "::",
            "2001:db8::7f00:1",
            "64:ff9b:1::a9fe:a9fe",
            "fe80::1",
        ] {
            assert_eq!(canonical(ip(own)), ip(own), "{own}");
        }
    }
}
