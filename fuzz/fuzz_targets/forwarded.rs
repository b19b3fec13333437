//! `forwarded::client_addr` on arbitrary header bytes: it never panics,
//! from an untrusted peer it always answers the peer, and whatever a client
//! wrote, the element a trusted proxy appended after it decides the answer.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use loophttp::forwarded::{Cidr, ProxyHeaders, client_addr};

fuzz_target!(|client: &[u8]| {
    let trusted: [Cidr; 2] = ["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
    let proxy: IpAddr = "127.0.0.1".parse().unwrap();
    let stranger: IpAddr = "198.51.100.77".parse().unwrap();
    let real: IpAddr = "198.51.100.4".parse().unwrap();

    let raw = ProxyHeaders::new(Some(client), Some(client));
    assert_eq!(client_addr(stranger, raw, &trusted), stranger);
    let _ = client_addr(proxy, raw, &trusted);

    let xff = [client, b", 198.51.100.4"].concat();
    let fwd = [client, b", for=198.51.100.4;proto=https"].concat();
    let appended = |h: ProxyHeaders<'_>| client_addr(proxy, h, &trusted);
    assert_eq!(appended(ProxyHeaders::new(None, Some(&xff))), real);
    assert_eq!(appended(ProxyHeaders::new(Some(&fwd), None)), real);
});
