"""Starting and stopping the three servers on loopback, each on a free port.

Every wait has a deadline; `Servers.stop()` ends exactly the processes
started here (by their Popen handle), and is safe to call twice.
"""

import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
START_DEADLINE = 20.0
STOP_GRACE = 5.0


class StartError(Exception):
    pass


class Servers:
    def __init__(self, binary):
        self.binary = binary
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="loophttp-differential-")
        self.files = os.path.join(self.tmp, "files")
        os.mkdir(self.files)
        self.ports = {}

    def start(self):
        self.ports["loophttp"] = self._start_loophttp()
        self.ports["node"] = self._start_reference("node", ["node", os.path.join(HERE, "node_server.js")])
        self.ports["h11"] = self._start_reference("h11", [sys.executable, os.path.join(HERE, "h11_server.py")])
        return self.ports

    def _start_loophttp(self):
        log_path = os.path.join(self.tmp, "loophttp.log")
        # Writes are opt-in since #18; the corpus's valid messages upload
        # (PUT/POST /files/...), and this test compares parsing, not policy.
        args = [self.binary, "--host", "127.0.0.1", "--port", "0", "--directory", self.files,
                "--allow-upload", "--allow-delete"]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.procs.append(("loophttp", proc))
        end = time.monotonic() + START_DEADLINE
        while time.monotonic() < end:
            with open(log_path, "rb") as f:
                m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m:
                return int(m.group(1))
            if proc.poll() is not None:
                break
            time.sleep(0.05)  # polling a log file: no event to wait on
        raise StartError(f"loophttp did not report its port; log: {open(log_path, 'rb').read()[-500:]!r}")

    def _start_reference(self, name, args):
        """Starts a reference that prints {"port": N} and exits when stdin closes."""
        try:
            proc = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(self._log(name), "wb")
            )
        except OSError as e:
            raise StartError(f"{name}: cannot start {args[0]}: {e}") from e
        self.procs.append((name, proc))
        ready, _, _ = select.select([proc.stdout], [], [], START_DEADLINE)
        line = proc.stdout.readline() if ready else b""
        try:
            return int(json.loads(line)["port"])
        except (ValueError, KeyError) as e:
            err = open(self._log(name), "rb").read()[-500:]
            raise StartError(f"{name} did not report its port ({line!r}); stderr: {err!r}") from e

    def _log(self, name):
        return os.path.join(self.tmp, f"{name}.log")

    def check_alive(self):
        """Raises StartError naming any server that died during the run."""
        dead = [f"{name} (exit {proc.returncode})" for name, proc in self.procs if proc.poll() is not None]
        if dead:
            logs = {name: open(self._log(name), "rb").read()[-300:] for name, _ in self.procs}
            raise StartError(f"died during the run: {', '.join(dead)}; logs: {logs!r}")

    def stop(self):
        for name, proc in self.procs:
            if proc.stdin:
                try:
                    proc.stdin.close()  # the references exit on EOF
                except OSError:
                    pass
            if proc.poll() is None and name == "loophttp":
                proc.terminate()
        for name, proc in self.procs:
            try:
                proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                print(f"# {name} did not stop within {STOP_GRACE}s: killing it", file=sys.stderr)
                proc.kill()
                proc.wait(timeout=STOP_GRACE)
            if proc.stdout:
                proc.stdout.close()
        self.procs = []
        shutil.rmtree(self.tmp, ignore_errors=True)
