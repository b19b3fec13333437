#!/usr/bin/env python3
"""Reference server for scripts/differential: Python's h11 state machine.

Answers every request h11 parsed with 200 and a JSON report of what it
parsed (method, target, header count, body length and sha256), several
requests per connection, so a second request hidden in the bytes shows up
as a second response. A protocol error is answered with h11's status hint
(400, 431, ...) and the connection closes.

Prints {"port": N} on stdout once listening on 127.0.0.1 (port 0); exits
when its stdin closes.
"""

import hashlib
import json
import socket
import socketserver
import sys
import threading

import h11

RECV_TIMEOUT = 5.0
MAX_HEAD = 16 * 1024  # the same head limit as loophttp's and Node's default


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(RECV_TIMEOUT)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        try:
            serve(conn, sock)
        except (OSError, h11.LocalProtocolError):
            pass  # the client went away, or h11 refused to answer: close


def serve(conn, sock):
    report = None
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as e:
            send_error(sock, e.error_status_hint, str(e))
            return
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(65536))
        elif isinstance(event, h11.Request):
            report = start_report(event)
        elif isinstance(event, h11.Data):
            report["hash"].update(event.data)
            report["body_len"] += len(event.data)
        elif isinstance(event, h11.EndOfMessage):
            send_report(conn, sock, report)
            if conn.our_state is h11.MUST_CLOSE:
                return  # h11 chose to close (HTTP/1.0, Connection: close); said so in the answer
        elif event is h11.PAUSED and conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:  # ConnectionClosed, or paused for good (MUST_CLOSE)
            return


def start_report(request):
    return {
        "method": request.method.decode("latin-1"),
        "target": request.target.decode("latin-1"),
        "headers": len(request.headers),
        "body_len": 0,
        "hash": hashlib.sha256(),
    }


def send_report(conn, sock, report):
    body = json.dumps(
        {
            "method": report["method"],
            "target": report["target"],
            "headers": report["headers"],
            "body_len": report["body_len"],
            "sha256": report["hash"].hexdigest(),
        }
    ).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    out = conn.send(h11.Response(status_code=200, headers=headers))
    out += conn.send(h11.Data(data=body))
    out += conn.send(h11.EndOfMessage())
    sock.sendall(out)


def send_error(sock, status, why):
    body = why.encode("utf-8", "replace")[:200]
    head = f"HTTP/1.1 {status} Error\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    try:
        sock.sendall(head.encode() + body)
    except OSError:
        pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    sys.stdin.read()  # the runner closes our stdin when it is done
    server.shutdown()


if __name__ == "__main__":
    main()
