"""Raw-socket exchanges and a small HTTP/1.1 response reader.

Each exchange writes the message in one piece, half-closes (so every
server sees the end of input and answers what it has), and reads until the
server closes or the deadline passes. Every socket call is bounded.
"""

import socket
import time

CONNECT_TIMEOUT = 3.0
EXCHANGE_DEADLINE = 8.0
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> last value
        self.body = body


# Between the pieces of a split message: long enough that the server
# usually reads each piece on its own. Only pacing: a verdict must not
# depend on where the reads fall, so no outcome relies on this delay.
PIECE_GAP = 0.003


def exchange(port, data, deadline=EXCHANGE_DEADLINE, cuts=()):
    """Sends `data` to 127.0.0.1:port, in pieces at the offsets `cuts`;
    returns (bytes received, note)."""
    end = time.monotonic() + deadline
    note = ""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT)
    except OSError as e:
        return b"", f"connect: {e}"
    with sock:
        try:
            sock.settimeout(max(0.1, end - time.monotonic()))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            bounds = [0, *sorted(cuts), len(data)]
            for start, stop in zip(bounds, bounds[1:]):
                if start > 0:
                    time.sleep(PIECE_GAP)
                sock.sendall(data[start:stop])
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            # The server may close early on input it refuses: read its answer.
            note = f"send: {type(e).__name__}"
        received = bytearray()
        while len(received) < MAX_RESPONSE_BYTES:
            left = end - time.monotonic()
            if left <= 0:
                return bytes(received), (note + " timeout").strip()
            sock.settimeout(left)
            try:
                piece = sock.recv(65536)
            except socket.timeout:
                return bytes(received), (note + " timeout").strip()
            except OSError as e:
                return bytes(received), (note + f" recv: {type(e).__name__}").strip()
            if not piece:
                break
            received += piece
        return bytes(received), note


def parse_responses(data):
    """Splits a byte stream into responses; 1xx interim answers are dropped.

    Returns (responses, leftover): leftover is what did not parse as a whole
    response (normally empty).
    """
    responses = []
    pos = 0
    while pos < len(data):
        parsed = _one(data, pos)
        if parsed is None:
            break
        resp, pos = parsed
        if not 100 <= resp.status < 200:
            responses.append(resp)
    return responses, data[pos:]


def _one(data, pos):
    head_end = data.find(b"\r\n\r\n", pos)
    if head_end < 0:
        return None
    lines = data[pos:head_end].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    status = int(parts[1])
    start = head_end + 4
    if 100 <= status < 200 or status in (204, 304):
        return Response(status, headers, b""), start
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return _chunked(status, headers, data, start)
    if "content-length" in headers:
        n = int(headers["content-length"])
        if start + n > len(data):
            return None
        return Response(status, headers, data[start : start + n]), start + n
    return Response(status, headers, data[start:]), len(data)


def _chunked(status, headers, data, pos):
    body = bytearray()
    while True:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(data[pos:line_end].split(b";")[0], 16)
        pos = line_end + 2
        if size == 0:
            trailers_end = data.find(b"\r\n", pos)
            while trailers_end > pos:  # skip trailer lines
                pos = trailers_end + 2
                trailers_end = data.find(b"\r\n", pos)
            if trailers_end < 0:
                return None
            return Response(status, headers, bytes(body)), trailers_end + 2
        body += data[pos : pos + size]
        pos += size + 2
