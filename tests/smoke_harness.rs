mod common;
use common::*;

#[test]
fn harness_reaches_the_in_process_server() {
    let s = TestServer::start();
    assert_eq!(s.get("/echo/ok").body, b"ok");
}
