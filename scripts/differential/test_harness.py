"""Unit tests of the harness itself: the response reader and the verdict
rules. run.sh runs them before the differential run.

    python3 -m unittest discover -s scripts/differential -p 'test_*.py'
"""

import unittest

from corpus import TAIL, escape, generate
from verdict import Verdict, answers_differ, compare
from wire import parse_responses

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntail"


def verdict(accepted=True, answered=(), body=None, stopped=False):
    return Verdict(accepted, [], list(answered), body, stopped)


class ResponseReader(unittest.TestCase):
    def test_length_chunked_and_interim_answers(self):
        chunked = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX: y\r\n\r\n"
        raw = b"HTTP/1.1 100 Continue\r\n\r\n" + chunked + OK
        responses, leftover = parse_responses(raw)
        self.assertEqual([r.status for r in responses], [201, 200])
        self.assertEqual([r.body for r in responses], [b"ab", b"tail"])
        self.assertEqual(leftover, b"")

    def test_a_cut_response_is_left_over(self):
        responses, leftover = parse_responses(OK + OK[:-2])
        self.assertEqual(len(responses), 1)
        self.assertEqual(leftover, OK[:-2])


class Rules(unittest.TestCase):
    def test_accepting_what_both_reject_is_a_finding(self):
        findings, _ = compare(verdict(), verdict(False), verdict(False))
        self.assertEqual([c for c, _ in findings], ["accepts-what-both-reject"])

    def test_stricter_than_the_references_is_not(self):
        findings, kind = compare(verdict(False), verdict(), verdict())
        self.assertEqual((findings, kind), ([], "loophttp stricter"))

    def test_another_body_is_a_finding_per_reference(self):
        findings, _ = compare(verdict(body=(5, "a")), verdict(body=(11, "b")), verdict(body=(5, "a")))
        self.assertEqual(findings, [("body-mismatch", "vs node")])

    def test_a_smuggled_request_answered_is_a_finding(self):
        ours = verdict(answered=["smuggled", "tail"])
        findings, _ = compare(ours, verdict(answered=["tail"]), verdict(answered=["tail"]))
        self.assertEqual({c for c, _ in findings}, {"request-count-mismatch"})

    def test_a_prefix_then_a_stop_is_not(self):
        self.assertTrue(answers_differ(verdict(answered=[]), verdict(answered=["tail"])))
        self.assertFalse(answers_differ(verdict(answered=[], stopped=True), verdict(answered=["tail"])))
        self.assertTrue(answers_differ(verdict(answered=["smuggled"], stopped=True), verdict(answered=["tail"])))


class Corpus(unittest.TestCase):
    def test_deterministic_large_and_uniquely_named(self):
        cases = generate(1)
        self.assertGreaterEqual(len(cases), 1000)
        self.assertEqual([c.data for c in cases], [c.data for c in generate(1)])
        self.assertEqual(len({c.name for c in cases}), len(cases))
        uploads = [c.upload for c in cases if c.upload]
        self.assertEqual(len(set(uploads)), len(uploads))
        self.assertTrue(all(c.data.endswith(TAIL) for c in cases if c.name.startswith("valid/")))

    def test_escape_is_unambiguous(self):
        self.assertEqual(escape(b"a\r\n\t\\\x00\xff"), "a\\r\\n\\t\\\\\\x00\\xff")


if __name__ == "__main__":
    unittest.main()
