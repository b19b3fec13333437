//! One listener for IPv4 and IPv6: the default host `::` accepts both; an
//! explicit address binds only its own family.

mod common;
use common::*;

use std::net::{Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

fn connects(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

fn echo_over(c: &mut Client, text: &str) -> Resp {
    c.send(format!("GET /echo/{text} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    c.response()
}

#[test]
fn default_listener_serves_ipv4_and_ipv6_clients() {
    let s = TestServer::start();
    assert_eq!(echo_over(&mut s.client(), "v4").body, b"v4");
    if !have_ipv6_loopback() {
        return;
    }
    assert!(s.dual_stack, "default host :: should give a dual-stack listener on a host with IPv6");
    let Some(mut c6) = s.client_v6() else {
        panic!("dual-stack listener refused a ::1 client");
    };
    assert_eq!(echo_over(&mut c6, "v6").body, b"v6");
}

#[test]
fn ipv4_and_ipv6_keep_alive_clients_interleave() {
    if !have_ipv6_loopback() {
        return;
    }
    let s = TestServer::start();
    let mut c6 = s.client_v6().expect("the dual-stack listener accepts ::1");
    let mut c4 = s.client();
    for i in 0..5 {
        assert_eq!(echo_over(&mut c4, &format!("four{i}")).text(), format!("four{i}"));
        assert_eq!(echo_over(&mut c6, &format!("six{i}")).text(), format!("six{i}"));
    }
}

/// Sends one request on `c` and returns the server's "#N open peer=PEER"
/// debug line for it: the only place the server says whom it accepted.
fn accepted_as(b: &mut BinServer, c: &mut Client) -> String {
    let port = c.stream().local_addr().unwrap().port();
    assert_eq!(echo_over(c, "who").body, b"who");
    let suffix = format!(":{port}");
    let line = b.wait_for_line(Duration::from_secs(5), |l| l.contains(" open peer=") && l.ends_with(&suffix));
    let line = line.unwrap_or_else(|| panic!("no \"#N open peer=...{suffix}\" line; log: {:#?}", b.lines));
    line.split(" peer=").nth(1).expect("peer address").to_string()
}

#[test]
fn ipv4_client_is_seen_as_ipv4_mapped_by_the_dual_stack_listener() {
    let mut b = BinServer::start(&["--log-level", "debug"]);
    let dual = b.lines.iter().any(|l| l.contains("listening on") && l.contains("dual-stack"));
    let mut c4 = Client::connect(([127, 0, 0, 1], b.port).into());
    let me = c4.stream().local_addr().unwrap();
    let peer = accepted_as(&mut b, &mut c4);
    if !have_ipv6_loopback() {
        assert_eq!(peer, me.to_string(), "an IPv4 listener sees the client's own address");
        return;
    }
    assert!(dual, "default host :: should be dual-stack on a host with IPv6; log: {:#?}", b.lines);
    // One AF_INET6 socket serves both families: the kernel hands it the
    // IPv4 client as ::ffff:127.0.0.1, with the client's own port.
    assert_eq!(peer, format!("[::ffff:127.0.0.1]:{}", me.port()));
    let mut c6 = Client::connect((Ipv6Addr::LOCALHOST, b.port).into());
    let me6 = c6.stream().local_addr().unwrap();
    assert_eq!(accepted_as(&mut b, &mut c6), me6.to_string(), "an IPv6 client is seen as itself");
}

#[test]
fn host_127_0_0_1_binds_only_ipv4() {
    let s = TestServer::with(|c| c.host = [127, 0, 0, 1].into());
    assert!(!s.dual_stack);
    assert_eq!(echo_over(&mut s.client(), "v4only").body, b"v4only");
    if !have_ipv6_loopback() {
        return;
    }
    assert!(!connects((Ipv6Addr::LOCALHOST, s.port).into()), "an IPv4-only listener accepted ::1");
}

#[test]
fn host_ipv6_loopback_binds_only_ipv6() {
    if !have_ipv6_loopback() {
        return;
    }
    let s = TestServer::with(|c| c.host = Ipv6Addr::LOCALHOST.into());
    assert!(!s.dual_stack);
    let mut c6 = s.client_v6().expect("::1 listener accepts ::1");
    assert_eq!(echo_over(&mut c6, "v6only").body, b"v6only");
    assert!(!connects(s.addr_v4()), "a ::1 listener accepted 127.0.0.1");
}

#[test]
fn binary_with_default_host_serves_ipv4_and_ipv6() {
    let b = BinServer::start(&[]);
    let mut c4 = Client::connect(([127, 0, 0, 1], b.port).into());
    assert_eq!(echo_over(&mut c4, "bin4").body, b"bin4");
    if !have_ipv6_loopback() {
        return;
    }
    let mut c6 = Client::connect((Ipv6Addr::LOCALHOST, b.port).into());
    assert_eq!(echo_over(&mut c6, "bin6").body, b"bin6");
}
