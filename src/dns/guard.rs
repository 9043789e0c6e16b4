//! Where the engine may send a question. A hostile zone can name any address as its name
//! server's; the engine asks only public unicast ones unless `--allow-private` says otherwise
//! (the tests' lab lives on 127.53.x.y). The ranges are IANA's special-purpose registries
//! (RFC 6890 and its updates) of addresses that are not globally reachable.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Ok when a question may go to `ip`; else why not.
pub fn check(ip: IpAddr, allow_private: bool) -> Result<(), &'static str> {
    match kind(ip) {
        Some(why) if !allow_private => Err(why),
        _ => Ok(()),
    }
}

/// What makes `ip` private or reserved; None for a public unicast address.
pub fn kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => kind_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => kind_v4(v4),
            None => kind_v6(v6),
        },
    }
}

fn kind_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(match o {
        [0, ..] => "an unspecified or \"this network\" address (0.0.0.0/8)",
        [127, ..] => "a loopback address (127.0.0.0/8)",
        [10, ..] => "a private address (10.0.0.0/8)",
        [172, b, ..] if (16..32).contains(&b) => "a private address (172.16.0.0/12)",
        [192, 168, ..] => "a private address (192.168.0.0/16)",
        [100, b, ..] if (64..128).contains(&b) => "a shared (carrier-grade NAT) address (100.64.0.0/10)",
        [169, 254, ..] => "a link-local address (169.254.0.0/16)",
        [192, 0, 0, _] => "an IETF protocol assignment (192.0.0.0/24)",
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => "a documentation address (RFC 5737)",
        [198, b, ..] if b == 18 || b == 19 => "a benchmarking address (198.18.0.0/15)",
        [a, ..] if (224..240).contains(&a) => "a multicast address (224.0.0.0/4)",
        [a, ..] if a >= 240 => "a reserved address (240.0.0.0/4)",
        _ => return None,
    })
}

fn kind_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "the unspecified address (::)",
        [0, 0, 0, 0, 0, 0, 0, 1] => "the loopback address (::1)",
        [a, ..] if a & 0xfe00 == 0xfc00 => "a unique local address (fc00::/7)",
        [a, ..] if a & 0xffc0 == 0xfe80 => "a link-local address (fe80::/10)",
        [a, ..] if a & 0xff00 == 0xff00 => "a multicast address (ff00::/8)",
        [0x2001, 0xdb8, ..] => "a documentation address (2001:db8::/32)",
        [0x100, 0, 0, 0, ..] => "a discard-only address (100::/64)",
        [0x2001, b, ..] if b < 0x200 => "an IETF protocol assignment (2001::/23)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_addresses_are_refused_unless_allowed() {
        for a in [
            "127.53.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = a.parse().unwrap();
            assert!(check(ip, false).is_err(), "{a} was allowed");
            assert!(check(ip, true).is_ok(), "{a} stays refused with --allow-private");
        }
        for a in ["192.5.6.30", "172.32.0.1", "100.128.0.1", "8.8.8.8", "2001:500:2::c", "2a00:1450::1", "::ffff:192.5.6.30"] {
            assert_eq!(check(a.parse().unwrap(), false), Ok(()), "{a}");
        }
    }
}
