"""What each server made of one case, and how three verdicts compare.

A verdict says whether the server accepted the first message (its parser
took it: any answer but a parse-level error), which of the plain requests
that follow it in the bytes (`GET /echo/tail`, `GET /echo/smuggled`) it
answered, in order, which tells where it thought the first message ended
and so how many requests the bytes hold; and which body it read for the
first message, when that is known: the references report it in their
answer, loophttp's is the file the upload stored.
"""

import hashlib
import json
from dataclasses import dataclass, field

from wire import parse_responses

# loophttp answers these when its parser (or a framing rule) refused the
# request; every other status means it parsed the request and routed it.
LOOPHTTP_REJECTS = {400, 408, 411, 413, 414, 417, 431, 500, 501, 505}
# The words of the plain requests that follow first messages (corpus.py).
MARKERS = ("tail", "smuggled")


@dataclass
class Verdict:
    accepted: bool
    statuses: list
    answered: list  # markers of the plain follow-up requests answered, in order
    body: tuple | None  # (length, sha256 hex) of the first message's body
    # The server ended the exchange itself: its last answer was a rejection
    # or announced `Connection: close` (h11 never keeps an HTTP/1.0
    # connection open, for example), so it read nothing after it.
    stopped: bool = False
    note: str = field(default="")

    def show(self):
        word = "accept" if self.accepted else "reject"
        body = f" body={self.body[0]}/{self.body[1][:12]}" if self.body else ""
        stopped = " stopped" if self.stopped else ""
        note = f" ({self.note})" if self.note else ""
        answered = "+".join(self.answered) or "-"
        return f"{word} statuses={self.statuses or '-'} answered={answered}{stopped}{body}{note}"


def stops(responses, accepted):
    """True if the last answer is a rejection or announced the close."""
    last = responses[-1] if responses else None
    return last is not None and (not accepted(last) or last.headers.get("connection", "").lower() == "close")


def reference_verdict(raw, note):
    responses, leftover = parse_responses(raw)
    reports = [json.loads(r.body) if r.status == 200 else None for r in responses]
    answered = []
    for report in reports[1:]:
        if report and report["method"] == "GET" and report["target"] in [f"/echo/{m}" for m in MARKERS]:
            answered.append(report["target"][len("/echo/") :])
    first = reports[0] if reports else None
    body = (first["body_len"], first["sha256"]) if first else None
    if leftover:
        note = (note + f" unparsed {len(leftover)} bytes").strip()
    stopped = stops(responses, lambda r: r.status == 200)
    return Verdict(first is not None, [r.status for r in responses], answered, body, stopped, note)


def loophttp_verdict(raw, note, stored):
    """`stored` is the uploaded file's bytes (None if no upload, or none stored)."""
    responses, leftover = parse_responses(raw)
    answered = [r.body.decode("latin-1") for r in responses[1:] if r.status == 200 and r.body in MARKERS_BYTES]
    accepted = bool(responses) and not loophttp_refused(responses[0])
    body = None
    if accepted and stored is not None:
        body = (len(stored), hashlib.sha256(stored).hexdigest())
    if leftover:
        note = (note + f" unparsed {len(leftover)} bytes").strip()
    stopped = stops(responses, lambda r: not loophttp_refused(r))
    return Verdict(accepted, [r.status for r in responses], answered, body, stopped, note)


MARKERS_BYTES = [m.encode() for m in MARKERS]


def loophttp_refused(response):
    """A parse-level error, or a 4xx that gave up on the connection: a route
    error (404, 405) may go out before the body with `Connection: close`,
    and then loophttp has not judged the rest of the message."""
    if response.status in LOOPHTTP_REJECTS:
        return True
    return 400 <= response.status < 500 and response.headers.get("connection", "").lower() == "close"


def compare(ours, node, h11):
    """Returns (findings, kind): findings is a list of (class, detail)."""
    findings = []
    if ours.accepted and not node.accepted and not h11.accepted:
        findings.append(("accepts-what-both-reject", "node and h11 reject"))
    for name, ref in (("node", node), ("h11", h11)):
        if not (ours.accepted and ref.accepted):
            continue
        if ours.body is not None and ref.body is not None and ours.body != ref.body:
            findings.append(("body-mismatch", f"vs {name}"))
        if answers_differ(ours, ref):
            findings.append(("request-count-mismatch", f"vs {name}"))
    return findings, ("finding" if findings else kind(ours, node, h11))


def answers_differ(a, b):
    """The follow-up requests answered differ, unless one side answered a
    prefix of the other's and then stopped (a rejection, or a close by
    choice: a body read short shows up as a body mismatch instead)."""
    if a.answered == b.answered:
        return False
    shorter, longer = (a, b) if len(a.answered) < len(b.answered) else (b, a)
    return not (shorter.stopped and longer.answered[: len(shorter.answered)] == shorter.answered)


def kind(ours, node, h11):
    """How three verdicts without a finding relate, for the summary."""

    def same(a, b):
        bodies = a.body is None or b.body is None or a.body == b.body
        return a.accepted == b.accepted and (not a.accepted or (not answers_differ(a, b) and bodies))

    if same(ours, node) and same(ours, h11):
        return "agreement"
    if not ours.accepted and (node.accepted or h11.accepted):
        return "loophttp stricter"
    if same(ours, node) or same(ours, h11):
        return "references disagree, loophttp sides with one"
    return "other difference"
