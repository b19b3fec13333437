#!/usr/bin/env bash
# Checks deploy/kubernetes/ offline, without a cluster: every manifest
# against the Kubernetes schemas (kubernetes-validate --strict: unknown
# fields are errors), then the numbers that must agree with loophttp's:
# terminationGracePeriodSeconds exceeds the preStop sleep plus
# LOOPHTTP_SHUTDOWN_TIMEOUT (so SIGKILL never cuts a drain), --drain-grace
# is shorter than the shutdown timeout, the probes ask /healthz, and the
# pod runs as a non-root user with a read-only root filesystem.
#
# Usage: scripts/kubernetes-verify.sh   (needs: pip install kubernetes-validate)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v kubernetes-validate >/dev/null 2>&1 \
    || { echo "not ok - kubernetes-validate missing (python3 -m pip install kubernetes-validate)"; exit 1; }
kubernetes-validate --strict --quiet "$ROOT"/deploy/kubernetes/*.yaml
echo "ok - kubernetes-validate --strict: $(cd "$ROOT" && echo deploy/kubernetes/*.yaml)"
python3 - "$ROOT/deploy/kubernetes/deployment.yaml" <<'PY'
import sys, yaml

def seconds(text):
    text = text.strip()
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text.rstrip("s"))

pod = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]
(c,) = pod["containers"]
env = {e["name"]: e["value"] for e in c.get("env", [])}
grace = pod["terminationGracePeriodSeconds"]
pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
shutdown = seconds(env["LOOPHTTP_SHUTDOWN_TIMEOUT"])
drain = seconds(env["LOOPHTTP_DRAIN_GRACE"])
problems = []
if grace <= pre_stop + shutdown:
    problems.append(f"terminationGracePeriodSeconds {grace} <= preStop {pre_stop} + shutdown timeout {shutdown}")
if drain >= shutdown:
    problems.append(f"drain grace {drain} s is not shorter than the shutdown timeout {shutdown} s")
for probe in ("readinessProbe", "livenessProbe"):
    if c[probe]["httpGet"]["path"] != "/healthz":
        problems.append(f"{probe} does not ask /healthz")
sc = {**pod.get("securityContext", {}), **c.get("securityContext", {})}
if not sc.get("runAsNonRoot") or not sc.get("readOnlyRootFilesystem"):
    problems.append("not runAsNonRoot with readOnlyRootFilesystem")
for p in problems:
    print(f"not ok - {p}")
if problems:
    sys.exit(1)
print(f"ok - grace {grace} s > preStop {pre_stop} s + --shutdown-timeout {shutdown:g} s; "
      f"--drain-grace {drain:g} s; probes on /healthz; non-root, read-only root")
PY
