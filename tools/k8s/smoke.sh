#!/usr/bin/env bash
# Smoke test of a running control plane (started by up.sh). Exercises what berth's tests
# rely on: scheduling onto KWOK nodes, Ready pods, EndpointSlices, the never-ready stage,
# ProgressDeadlineExceeded, rollback, garbage collection. Uses namespace berth-smoke.
# Env: BERTH_K8S_STATE as for up.sh. Exit 0 = all checks passed.
set -euo pipefail

CACHE_ROOT="${BERTH_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-k8s}"
STATE="${BERTH_K8S_STATE:-$CACHE_ROOT/run}"
[ -f "$STATE/env" ] || { echo "smoke.sh: no running control plane in $STATE (run up.sh)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$STATE/env"
K=("$BERTH_K8S_BIN/kubectl" -n berth-smoke)
pass=0; fail=0
ok()   { echo "ok   - $*"; pass=$((pass+1)); }
bad()  { echo "FAIL - $*"; fail=$((fail+1)); }
# poll DESC SECONDS CMD... : retry until CMD succeeds
poll() {
  local desc="$1" secs="$2"; shift 2
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$end" ]; then bad "$desc (after ${secs}s)"; return 1; fi
    sleep 0.5
  done
  ok "$desc"
}

"${K[@]}" create namespace berth-smoke >/dev/null 2>&1 || "$BERTH_K8S_BIN/kubectl" create namespace berth-smoke >/dev/null
poll "default service account in new namespace" 30 "${K[@]}" get sa default

# --- healthy Deployment + Service -> 2 Ready pods on kwok nodes, EndpointSlice with 2 ready endpoints
"${K[@]}" create deployment app --image=example/app:1 --replicas=2 >/dev/null
"${K[@]}" patch deployment app -p '{"spec":{"progressDeadlineSeconds":10}}' >/dev/null
"${K[@]}" expose deployment app --port=80 --target-port=8080 >/dev/null
poll "deployment app rolled out (2/2 available)" 60 "${K[@]}" rollout status deployment/app --timeout=5s
on_kwok() {
  local nodes; nodes="$("${K[@]}" get pods -l app=app -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}')"
  [ "$(grep -c '^kwok-node-' <<<"$nodes")" = 2 ]
}
poll "both app pods scheduled on kwok-node-*" 10 on_kwok
ready_pods() {
  [ "$("${K[@]}" get pods -l "app=$1" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$')" = "$2" ]
}
poll "2 app pods Running/Ready" 30 ready_pods app 2
ready_eps() {
  local n
  n="$("${K[@]}" get endpointslices -l kubernetes.io/service-name=app \
      -o jsonpath='{range .items[*].endpoints[*]}{.conditions.ready}{"\n"}{end}' | grep -c '^true$')"
  [ "$n" = "$1" ]
}
poll "EndpointSlice for service app has 2 ready endpoints" 30 ready_eps 2
"${K[@]}" get pods -o wide

# --- PodDisruptionBudget is evaluated by the disruption controller
"${K[@]}" create poddisruptionbudget app --selector=app=app --min-available=1 >/dev/null
pdb_ok() {
  [ "$("${K[@]}" get pdb app -o jsonpath='{.status.currentHealthy}/{.status.disruptionsAllowed}')" = 2/1 ]
}
poll "PDB app: currentHealthy=2 disruptionsAllowed=1" 30 pdb_ok

# --- /version through plain HTTPS + bearer token (what a non-kubectl client does)
ver="$(curl -fsS --cacert "$BERTH_K8S_CA" -H "Authorization: Bearer $BERTH_K8S_TOKEN" "$BERTH_K8S_SERVER/version" | grep -o '"gitVersion": *"[^"]*"' || true)"
[ -n "$ver" ] && ok "GET /version with token: $ver" || bad "GET /version with token"

# --- Deployment whose image contains never-ready -> pods stay not Ready (CrashLoopBackOff)
"${K[@]}" create deployment broken --image=example/never-ready:1 --replicas=2 >/dev/null
"${K[@]}" patch deployment broken -p '{"spec":{"progressDeadlineSeconds":5}}' >/dev/null
crashloop() {
  [ "$("${K[@]}" get pods -l app=broken -o jsonpath='{range .items[*]}{.status.containerStatuses[0].state.waiting.reason}{"\n"}{end}' | grep -c '^CrashLoopBackOff$')" = 2 ]
}
poll "2 broken pods Running but in CrashLoopBackOff" 30 crashloop
sleep 3
ready_pods broken 0 && ok "broken pods are not Ready" || bad "broken pods are not Ready"
deadline_exceeded() {
  [ "$("${K[@]}" get deployment "$1" -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')" = ProgressDeadlineExceeded ]
}
poll "deployment broken: Progressing=False/ProgressDeadlineExceeded" 40 deadline_exceeded broken
"${K[@]}" get pods -l app=broken

# --- broken rollout of app -> stuck, old pods keep serving, rollback restores it
"${K[@]}" set image deployment/app app=example/never-ready:2 >/dev/null
poll "app rollout to never-ready stalls (ProgressDeadlineExceeded)" 60 deadline_exceeded app
ready_eps 2 && ok "old app pods still serve (2 ready endpoints) during the broken rollout" || bad "old pods still serve"
"${K[@]}" rollout undo deployment/app >/dev/null
poll "rollback: deployment app rolled out again" 60 "${K[@]}" rollout status deployment/app --timeout=5s
only_v1() {
  [ "$("${K[@]}" get pods -l app=app -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | sort -u)" = example/app:1 ]
}
poll "after rollback only example/app:1 pods remain" 60 only_v1

# --- garbage collection: deleting Deployments removes ReplicaSets and pods
"${K[@]}" delete pdb app >/dev/null
"${K[@]}" delete deployment app broken --wait=false >/dev/null
no_pods() { [ -z "$("${K[@]}" get pods,replicasets -o name)" ]; }
poll "GC removed replicasets and pods" 60 no_pods
"$BERTH_K8S_BIN/kubectl" delete namespace berth-smoke --wait=false >/dev/null

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
