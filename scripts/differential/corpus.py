"""The differential corpus: valid request messages and mutations of them.

`generate(seed)` returns a list of `Case`s, always the same list for the
same seed. Every case is one connection's worth of bytes: a first message
(valid or mutated) followed by `TAIL`, a plain second request, so that
where a server thinks the first message ends shows up as how many answers
it sends. A message that carries a body targets `/files/NAME` (POST or PUT)
so that loophttp's stored file tells which body it parsed.

Case names carry list indexes (`chunk-line/7`) and docs/CONFORMANCE.md
names cases: append to the lists, do not reorder them.

Run `python3 corpus.py [SEED]` to print the corpus (escaped, one a line).
"""

import random
import sys
from dataclasses import dataclass

TAIL = b"GET /echo/tail HTTP/1.1\r\nHost: localhost\r\n\r\n"
# Body bytes that look like a request: a server that ends the body early
# answers them as a request of their own.
SMUGGLE = b"GET /echo/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"
HOST = b"Host: localhost\r\n"


@dataclass
class Case:
    name: str
    data: bytes
    upload: str | None  # the /files name the first message writes, if any


def escape(data, limit=400):
    """Readable, unambiguous bytes: printable ASCII as is, the rest as \\xNN."""
    out = []
    for b in data[:limit]:
        if b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x09:
            out.append("\\t")
        elif b == 0x5C:
            out.append("\\\\")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    if len(data) > limit:
        out.append(f"...(+{len(data) - limit} bytes)")
    return "".join(out)


class Builder:
    """Collects cases; each upload gets its own name from a counter."""

    def __init__(self):
        self.cases = []

    def name(self):
        return f"d{len(self.cases):05d}"

    def add(self, name, first, upload=None, tail=True):
        self.cases.append(Case(name, first + (TAIL if tail else b""), upload))


def upload_msg(name, headers, body, method=b"POST", version=b"HTTP/1.1"):
    head = method + b" /files/" + name.encode() + b" " + version + b"\r\n" + headers
    return head + b"\r\n" + body


def chunked_msg(name, body, extra=b"", method=b"PUT"):
    return upload_msg(name, HOST + b"Transfer-Encoding: chunked\r\n" + extra, body, method)


CHUNKED_BODY = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"


def bases(name):
    """The valid messages every mutation family starts from: (id, bytes, upload?)."""
    return [
        ("get-echo", b"GET /echo/abc HTTP/1.1\r\n" + HOST + b"User-Agent: diff/1\r\nAccept: */*\r\n\r\n", None),
        ("post-cl", upload_msg(name, HOST + b"Content-Length: 11\r\n", b"hello world"), name),
        ("put-chunked", chunked_msg(name, CHUNKED_BODY), name),
        (
            "post-chunked-ext-trailer",
            chunked_msg(name, b"5;a=b\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n", method=b"POST"),
            name,
        ),
        ("post-http10", upload_msg(name, b"Content-Length: 5\r\n", b"hello", version=b"HTTP/1.0"), name),
        ("get-http10-ka", b"GET /echo/ten HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", None),
        ("get-absolute", b"GET http://localhost/echo/abs HTTP/1.1\r\n" + HOST + b"\r\n", None),
        ("options-star", b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n", None),
        ("post-cl0", upload_msg(name, HOST + b"Content-Length: 0\r\n", b""), name),
        ("post-expect", upload_msg(name, HOST + b"Expect: 100-continue\r\nContent-Length: 4\r\n", b"data"), name),
        ("get-root", b"GET / HTTP/1.1\r\nHost: example.com:8080\r\nConnection: keep-alive\r\n\r\n", None),
        ("post-cl-smuggle", upload_msg(name, HOST + b"Content-Length: 48\r\n", SMUGGLE), name),
        ("put-chunked-smuggle", chunked_msg(name, b"30\r\n" + SMUGGLE + b"\r\n0\r\n\r\n"), name),
    ]


def base(b, ident):
    name = b.name()
    for i, data, upload in bases(name):
        if i == ident:
            return data, upload
    raise KeyError(ident)


def split_head(data):
    end = data.index(b"\r\n\r\n") + 4
    return data[:end], data[end:]


def valid_family(b):
    for ident, _, _ in bases("x"):
        data, upload = base(b, ident)
        b.add(f"valid/{ident}", data, upload)
        data, upload = base(b, ident)
        b.add(f"valid-alone/{ident}", data, upload, tail=False)


def position_family(b, rng):
    """Whitespace, case, and odd bytes at every position of a few heads, and
    of the chunked bodies (chunk lines, chunk ends, trailers) too."""
    odd = [b"\r", b"\n", b"\x00", b"\x0b", b"\x0c", b"\x7f", b"\x80", b"\xff", b"\x01", b"\x1b"]
    for ident, whole in (("post-cl", False), ("put-chunked", True), ("get-echo", False), ("post-chunked-ext-trailer", True)):
        data = base(b, ident)[0]
        end = len(data) if whole else len(split_head(data)[0]) - 1
        for pos in range(end):
            for ws, tag in ((b" ", "sp"), (b"\t", "tab")):
                data, upload = base(b, ident)
                b.add(f"{ident}/insert-{tag}@{pos}", data[:pos] + ws + data[pos:], upload)
            data, upload = base(b, ident)
            byte = rng.choice(odd)
            b.add(f"{ident}/insert-{byte.hex()}@{pos}", data[:pos] + byte + data[pos:], upload)
            data, upload = base(b, ident)
            c = data[pos : pos + 1]
            if c.isalpha():
                b.add(f"{ident}/case@{pos}", data[:pos] + c.swapcase() + data[pos + 1 :], upload)


def line_end_family(b):
    """Each line ending of a head replaced by a bare LF, a bare CR, LF CR, CR CR LF."""
    for ident in ("post-cl", "put-chunked", "get-echo", "post-chunked-ext-trailer"):
        data = base(b, ident)[0]
        ends = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\r\n"]
        for n, at in enumerate(ends):
            for repl, tag in ((b"\n", "lf"), (b"\r", "cr"), (b"\n\r", "lfcr"), (b"\r\r\n", "crcrlf")):
                data, upload = base(b, ident)
                b.add(f"{ident}/eol{n}-{tag}", data[:at] + repl + data[at + 2 :], upload)


CONTENT_LENGTHS = [
    b"Content-Length: 11\r\nContent-Length: 11\r\n",
    b"Content-Length: 11\r\nContent-Length: 12\r\n",
    b"Content-Length: 11, 11\r\n",
    b"Content-Length: 11,11\r\n",
    b"Content-Length: 11, 12\r\n",
    b"Content-Length: +11\r\n",
    b"Content-Length: 011\r\n",
    b"Content-Length: 0x0b\r\n",
    b"Content-Length: 11.0\r\n",
    b"Content-Length: 1_1\r\n",
    b"Content-Length: 1 1\r\n",
    b"Content-Length: -11\r\n",
    b"Content-Length:\r\n",
    b"Content-Length: \r\n",
    b"Content-Length:11\r\n",
    b"Content-Length:  11  \r\n",
    b"Content-Length:\t11\t\r\n",
    b"Content-Length: 11\x00\r\n",
    b"Content-Length: 11\x0b\r\n",
    b"Content-Length: 11\r\n\r\n",
    b"Content-Length: 99999999999999999999999\r\n",
    b"Content-Length: 18446744073709551616\r\n",
    b"Content-Length : 11\r\n",
    b"Content-Length\t: 11\r\n",
    b" Content-Length: 11\r\n",
    b"Content-Length: 11\r\n  \r\n",
    b"Content-Length: 1\r\n 1\r\n",
    b"Content-Length: 11\r\nContent-Length: 11, 11\r\n",
    b"content-length: 11\r\nCONTENT-LENGTH: 11\r\n",
    b"Content_Length: 11\r\n",
    b"Content-Length\r\n",
    b"Content-Length: 11\rX: y\r\n",
    b"Content-Length: \xef\xbc\x91\xef\xbc\x91\r\n",  # fullwidth digits
    b"Content-Length: \xb91\r\n",
]

TRANSFER_ENCODINGS = [
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: Chunked\r\n",
    b"Transfer-Encoding: CHUNKED\r\n",
    b"Transfer-Encoding:chunked\r\n",
    b"Transfer-Encoding:  chunked \r\n",
    b"Transfer-Encoding:\tchunked\r\n",
    b"Transfer-Encoding: chunked, chunked\r\n",
    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked, gzip\r\n",
    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
    b"Transfer-Encoding: identity\r\n",
    b"Transfer-Encoding: identity, chunked\r\n",
    b"Transfer-Encoding: xchunked\r\n",
    b"Transfer-Encoding: chunk\r\n",
    b"Transfer-Encoding: chunked;q=1\r\n",
    b"Transfer-Encoding: chunked,\r\n",
    b"Transfer-Encoding: ,chunked\r\n",
    b"Transfer-Encoding: \"chunked\"\r\n",
    b"Transfer-Encoding: chunked\x00\r\n",
    b"Transfer-Encoding: chunked\x0b\r\n",
    b"Transfer-Encoding: \xc3\xa7hunked\r\n",
    b"Transfer-Encoding:\r\n chunked\r\n",
    b"Transfer-Encoding: x\r\n chunked\r\n",
    b"Transfer-Encoding : chunked\r\n",
    b" Transfer-Encoding: chunked\r\n",
    b"Transfer_Encoding: chunked\r\n",
    b"Transfer-Encoding:\r\n",
    b"Transfer-Encoding: chunked\rX: y\r\n",
    b"X: y\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked\r\nContent-Length: 11\r\n",
    b"Content-Length: 11\r\nTransfer-Encoding: chunked\r\n",
    b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked\r\nContent-Length: 0\r\n",
    b"Transfer-Encoding: gzip\r\nContent-Length: 11\r\n",
]

# Bodies the framing headers above are tried with: a chunked body that is
# also 11 bytes long when read by length, a plain 11-byte body, and bodies
# whose other reading is a smuggled request.
FRAMING_BODIES = [
    ("chunked", b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"),
    ("plain", b"hello world"),
    ("len11-then-request", b"0\r\n\r\nXXXXXX" + SMUGGLE),
    ("chunked-then-request", b"0\r\n\r\n" + SMUGGLE),
]


def framing_family(b):
    for hi, header in enumerate(CONTENT_LENGTHS + TRANSFER_ENCODINGS):
        for tag, body in FRAMING_BODIES:
            name = b.name()
            b.add(f"framing/{hi}-{tag}", upload_msg(name, HOST + header, body), name)
    for hi, header in enumerate(TRANSFER_ENCODINGS[:8] + CONTENT_LENGTHS[:6]):
        name = b.name()
        msg = upload_msg(name, header, FRAMING_BODIES[0][1], version=b"HTTP/1.0")
        b.add(f"framing-http10/{hi}", msg, name)


CHUNK_LINES = [
    b"5", b"05", b"0000000005", b"5;ext", b"5;ext=val", b"5;ext=\"quoted\"", b"5;ext=\"a\\\"b\"",
    b"5 ;ext", b"5; ext", b"5\t;ext", b"5;ext =val", b"5;ext= val", b"5;a=b;c=d", b"5;a;b;c",
    b"5;", b"5 ", b"5\t", b"5;=v", b"5;e==v", b"5;e=", b"5;e=\"unterminated", b"5;e=a b",
    b"5 x", b"5x", b"5;e\x01", b"5;e=\x7f", b"5;e=\x80", b"5;e=(x)", b"5;\"e\"", b"0x5", b"+5", b"-5",
    b" 5", b"\t5", b"5\x00", b"5\r", b"", b"5 5", b"5,", b"5_", b"5;e=v\r\n", b"5\r\n",
    b"5;" + b"e" * 100, b"5;e=" + b"v" * 5000, b"5;" + b"a=b;" * 20000,
    b"0" * 200 + b"5", b"ffffffffffffffff5", b"10000000000000005",
]

AFTER_DATA = [b"\r\n", b"\n", b"\r", b"", b"X\r\n", b" \r\n", b"\r\n\r\n", b"\r\x00\n"]

LAST_CHUNKS = [b"0", b"00", b"000", b"0;ext", b"0;ext=v", b"0 ", b"0\t", b"0;", b"0x0", b"-0", b"+0", b" 0"]

TRAILERS = [
    b"X-T: 1\r\n", b"X-T:1\r\n", b"X-T : 1\r\n", b"X-T: 1\r\n 2\r\n", b"X-T: 1\n", b"X-T: 1\r",
    b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n", b"Host: other\r\n", b"X-T: \x00\r\n",
    b"X-T: \x01\r\n", b"X-T: \x80\r\n", b"no colon\r\n", b": empty\r\n", b"X T: 1\r\n", b" X-T: 1\r\n",
    b"X-T: " + b"v" * 20000 + b"\r\n", b"X-A: 1\r\nX-B: 2\r\n", b"\x80: 1\r\n",
]


def chunk_family(b):
    for i, line in enumerate(CHUNK_LINES):
        name = b.name()
        b.add(f"chunk-line/{i}", chunked_msg(name, line + b"\r\nhello\r\n0\r\n\r\n"), name)
    for i, after in enumerate(AFTER_DATA):
        name = b.name()
        b.add(f"chunk-data-end/{i}", chunked_msg(name, b"5\r\nhello" + after + b"0\r\n\r\n"), name)
    for i, last in enumerate(LAST_CHUNKS):
        name = b.name()
        b.add(f"chunk-last/{i}", chunked_msg(name, b"5\r\nhello\r\n" + last + b"\r\n\r\n"), name)
    for i, trailer in enumerate(TRAILERS):
        name = b.name()
        b.add(f"chunk-trailer/{i}", chunked_msg(name, b"5\r\nhello\r\n0\r\n" + trailer + b"\r\n"), name)
    for i, body in enumerate(
        [
            b"5\r\nhello\r\n",  # no last chunk
            b"5\r\nhello\r\n0\r\n",  # no end of trailers
            b"6\r\nhello\r\n0\r\n\r\n",  # size one too many
            b"4\r\nhello\r\n0\r\n\r\n",  # size one too few
            b"5\r\nhello\r\n0\r\n\r\n\r\n",  # an extra empty line
            b"5\r\nhello\r\n0\r\n\n",
            b"5\r\nhello\r\n0\n\r\n",
            b"5\r\nhello\r\n0\r\r\n",
            b"\r\n5\r\nhello\r\n0\r\n\r\n",  # a leading empty line
        ]
    ):
        name = b.name()
        b.add(f"chunk-shape/{i}", chunked_msg(name, body), name)


HOSTS = [
    b"Host: localhost\r\n", b"Host:\r\n", b"Host: \r\n", b"Host: a b\r\n", b"Host: a/b\r\n",
    b"Host: user@localhost\r\n", b"Host: a, b\r\n", b"Host: [::1]\r\n", b"Host: [::1]:80\r\n",
    b"Host: ::1\r\n", b"Host: localhost:\r\n", b"Host: localhost:80\r\n", b"Host: localhost:abc\r\n",
    b"Host: localhost:99999\r\n", b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1:8080\r\n", b"Host: [v1.x]\r\n",
    b"Host: [::1\r\n", b"Host: local\x00host\r\n", b"Host: l\xc3\xb6cal\r\n", b"Host: local_host\r\n",
    b"Host: a%20b\r\n", b"Host: localhost\r\nHost: localhost\r\n", b"Host: localhost\r\nHost: other\r\n",
    b"", b"Host:localhost\r\n", b"Host : localhost\r\n", b"Host:\tlocalhost\t\r\n",
    b"Host: localhost\r\n\tother\r\n", b"HOST: localhost\r\n", b"Host: -a.b-\r\n", b"Host: a..b\r\n",
    b"Host: *\r\n", b"Host: localhost#x\r\n", b"Host: localhost?x\r\n", b"Host: \"localhost\"\r\n",
]


def host_family(b):
    for i, host in enumerate(HOSTS):
        b.add(f"host/{i}", b"GET /echo/h HTTP/1.1\r\n" + host + b"\r\n")
        b.add(f"host-absolute/{i}", b"GET http://localhost/echo/h HTTP/1.1\r\n" + host + b"\r\n")
        b.add(f"host-http10/{i}", b"GET /echo/h HTTP/1.0\r\n" + host + b"Connection: keep-alive\r\n\r\n")
        name = b.name()
        b.add(f"host-upload/{i}", upload_msg(name, host + b"Content-Length: 5\r\n", b"hello"), name)


REQUEST_LINES = [
    b"GET /echo/x HTTP/1.1", b"get /echo/x HTTP/1.1", b"Get /echo/x HTTP/1.1", b"GET  /echo/x HTTP/1.1",
    b"GET /echo/x  HTTP/1.1", b"GET\t/echo/x\tHTTP/1.1", b" GET /echo/x HTTP/1.1", b"GET /echo/x HTTP/1.1 ",
    b"GET /echo/x HTTP/1.2", b"GET /echo/x HTTP/2.0", b"GET /echo/x HTTP/1", b"GET /echo/x HTTP/1.10",
    b"GET /echo/x HTTP/01.1", b"GET /echo/x http/1.1", b"GET /echo/x HTTP/1.1x", b"GET /echo/x",
    b"GET /echo/x HTTP/", b"GET /echo/x HTTPS/1.1", b"GET /echo/x HTTP/0.9", b"GET /echo/x HTTP/9.9",
    b"GET", b"/echo/x HTTP/1.1", b"GETT /echo/x HTTP/1.1", b"G=T /echo/x HTTP/1.1", b"GET\x00 /echo/x HTTP/1.1",
    b"GE T /echo/x HTTP/1.1", b"FOO /echo/x HTTP/1.1", b"PROPFIND /echo/x HTTP/1.1", b"A" * 300 + b" / HTTP/1.1",
    b"GET http://localhost/echo/x HTTP/1.1", b"GET HTTP://LOCALHOST/echo/x HTTP/1.1",
    b"GET https://localhost/echo/x HTTP/1.1", b"GET http://localhost HTTP/1.1", b"GET http://localhost?q HTTP/1.1",
    b"GET http:///echo/x HTTP/1.1", b"GET ftp://localhost/echo/x HTTP/1.1", b"GET http://user@localhost/echo/x HTTP/1.1",
    b"GET http://localhost:80/echo/x HTTP/1.1", b"GET http://[::1]/echo/x HTTP/1.1", b"GET http:/echo/x HTTP/1.1",
    b"GET * HTTP/1.1", b"OPTIONS * HTTP/1.1", b"OPTIONS ** HTTP/1.1", b"OPTIONS *x HTTP/1.1",
    b"OPTIONS http://localhost HTTP/1.1", b"OPTIONS /echo/x HTTP/1.1", b"GET localhost:80 HTTP/1.1",
    b"GET /echo/a b HTTP/1.1", b"GET /echo/a%20b HTTP/1.1", b"GET /echo/%00 HTTP/1.1", b"GET /echo/%0d%0a HTTP/1.1",
    b"GET /echo/\x80 HTTP/1.1", b"GET /echo/\xc3\xa9 HTTP/1.1", b"GET /echo/\x7f HTTP/1.1", b"GET /echo/\x01 HTTP/1.1",
    b"GET //echo/x HTTP/1.1", b"GET echo/x HTTP/1.1", b"GET /echo/x#frag HTTP/1.1", b"GET /echo/x?q=1 HTTP/1.1",
    b"GET /echo/x?q=a b HTTP/1.1", b"GET /echo/\"x\" HTTP/1.1", b"GET /echo/<x> HTTP/1.1", b"GET /echo/x\\y HTTP/1.1",
    b"GET /echo/{x} HTTP/1.1", b"GET /echo/%zz HTTP/1.1", b"GET /echo/%2 HTTP/1.1", b"GET /echo/x\t HTTP/1.1",
    b"GET /" + b"a" * 9000 + b" HTTP/1.1", b"GET /" + b"a" * 17000 + b" HTTP/1.1",
]


def request_line_family(b):
    for i, line in enumerate(REQUEST_LINES):
        b.add(f"request-line/{i}", line + b"\r\n" + HOST + b"\r\n")
        b.add(f"request-line-http10/{i}", line.replace(b"HTTP/1.1", b"HTTP/1.0") + b"\r\n\r\n")
    for i, lead in enumerate([b"\r\n", b"\n", b"\r\n\r\n", b" \r\n", b"\r"]):
        b.add(f"leading-empty/{i}", lead + b"GET /echo/x HTTP/1.1\r\n" + HOST + b"\r\n")


HEADER_LINES = [
    b"X-A: 1\r\n", b"X-A:1\r\n", b"X-A : 1\r\n", b"X-A\t: 1\r\n", b": 1\r\n", b"X-A\r\n", b"X A: 1\r\n",
    b"X(A): 1\r\n", b"X\x80A: 1\r\n", b"X-A: 1\x00\r\n", b"X-A: \x01\r\n", b"X-A: \x7f\r\n", b"X-A: \x80\xff\r\n",
    b"X-A: a\rb\r\n", b"X-A: 1\r\n 2\r\n", b"X-A: 1\r\n\t2\r\n", b"X-A: 1\r\n \r\n", b" \r\n", b"\t\r\n",
    b"X-A: " + b"v" * 9000 + b"\r\n", b"X-A: " + b"v" * 17000 + b"\r\n", b"X" * 17000 + b": 1\r\n",
    b"".join(b"X-%d: 1\r\n" % i for i in range(99)), b"".join(b"X-%d: 1\r\n" % i for i in range(150)),
    b"X-A:\r\n", b"X-A: \xc3\xa9\r\n", b"X-A;: 1\r\n", b"X-A:: 1\r\n", b"X-A: 1\r\r\n", b"\x00: 1\r\n",
    b"Connection: close\r\n", b"Connection: keep-alive, close\r\n", b"Expect: 100-continue\r\n",
    b"Expect: foo\r\n", b"Upgrade-Insecure: 1\r\n", b"Keep-Alive: 5\r\n",
]


def header_family(b):
    for i, line in enumerate(HEADER_LINES):
        b.add(f"header/{i}", b"GET /echo/x HTTP/1.1\r\n" + HOST + line + b"\r\n")
        name = b.name()
        msg = upload_msg(name, HOST + line + b"Content-Length: 5\r\n", b"hello")
        b.add(f"header-before-cl/{i}", msg, name)
        name = b.name()
        msg = upload_msg(name, HOST + b"Content-Length: 5\r\n" + line, b"hello")
        b.add(f"header-after-cl/{i}", msg, name)


def random_family(b, rng, count):
    """Seeded random edits (insert, delete, replace, duplicate a line) of the bases."""
    alphabet = b"\r\n\t :;,=\"\x00\x7f\x80\xff0123456789aAzZ-"
    idents = [i for i, _, _ in bases("x")]
    for n in range(count):
        ident = rng.choice(idents)
        data, upload = base(b, ident)
        data = bytearray(data)
        edits = []
        for _ in range(rng.randint(1, 3)):
            op = rng.choice(("insert", "delete", "replace", "dup-line"))
            pos = rng.randrange(len(data))
            if op == "insert":
                data[pos:pos] = bytes([rng.choice(alphabet)])
            elif op == "delete":
                del data[pos]
            elif op == "replace":
                data[pos] = rng.choice(alphabet)
            else:
                start = data.rfind(b"\n", 0, pos) + 1
                end = data.find(b"\n", pos) + 1 or len(data)
                data[end:end] = data[start:end]
            edits.append(f"{op}@{pos}")
        b.add(f"random/{n}-{ident}-{'+'.join(edits)}", bytes(data), upload)


def bulk_family(b, rng):
    """Bodies larger than one read: the decoders must agree across buffer
    boundaries (sizes around powers of two, many chunks with extensions)."""
    for size in (4095, 4096, 4097, 16383, 16384, 16385, 65535, 65536, 65537, 1 << 20):
        name = b.name()
        body = rng.randbytes(size)
        b.add(f"bulk-length/{size}", upload_msg(name, HOST + b"Content-Length: %d\r\n" % size, body), name)
    exts = [b"", b";a", b";a=b", b';q="x y"', b";a=b;c=d"]  # no BWS: the references refuse it
    for n in range(12):
        name = b.name()
        pieces = []
        for _ in range(rng.randint(1, 200)):
            data = rng.randbytes(rng.randint(1, 9000))
            size = b"%x" % len(data)
            if rng.random() < 0.3:
                size = size.upper().rjust(rng.randint(len(size), 8), b"0")
            pieces.append(size + rng.choice(exts) + b"\r\n" + data + b"\r\n")
        trailer = b"X-Checksum: %d\r\n" % n if n % 2 else b""
        b.add(f"bulk-chunked/{n}", chunked_msg(name, b"".join(pieces) + b"0\r\n" + trailer + b"\r\n"), name)


def root_body_family(b):
    """Bodies sent to `POST /`, a route that does not use them: loophttp must
    still read each one to its end before answering, so the follow-up
    requests it answers tell where it thought the body ended."""
    for ident in ("post-cl", "put-chunked", "post-chunked-ext-trailer", "post-expect", "post-cl-smuggle",
                  "put-chunked-smuggle", "post-http10"):
        data = base(b, ident)[0]
        method, rest = data.split(b" ", 1)
        target, rest = rest.split(b" ", 1)
        b.add(f"root-body/{ident}", b"POST / " + rest)
    for i, line in enumerate(CHUNK_LINES):
        body = line + b"\r\nhello\r\n0\r\n\r\n"
        b.add(f"root-body-chunk-line/{i}", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n" + body)
    for i, (tag, body) in enumerate(FRAMING_BODIES):
        for header in (b"Content-Length: 11\r\n", b"Transfer-Encoding: chunked\r\n"):
            name = "cl" if header.startswith(b"Content") else "te"
            b.add(f"root-body-framing/{name}-{tag}", b"POST / HTTP/1.1\r\n" + HOST + header + b"\r\n" + body)


def generate(seed=1, random_count=300):
    # One generator per family, so that a change to one family leaves the
    # others' cases (and their names) as they were.
    def rng(family):
        return random.Random(f"{seed}/{family}")

    b = Builder()
    valid_family(b)
    position_family(b, rng("position"))
    line_end_family(b)
    framing_family(b)
    chunk_family(b)
    host_family(b)
    request_line_family(b)
    header_family(b)
    random_family(b, rng("random"), random_count)
    bulk_family(b, rng("bulk"))
    root_body_family(b)
    return b.cases


if __name__ == "__main__":
    for case in generate(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
        print(f"{case.name}\t{escape(case.data)}")
