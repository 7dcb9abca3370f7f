#!/usr/bin/env bash
# Tests of the container side: images, the Compose stack, the Kubernetes manifests and the
# monitoring configuration. See docs/containers.md ("What the test checks").
#
# Usage: scripts/test-containers.sh [--no-build] [--static-only] [--keep]
#   --no-build     use the tympan/*:$TYMPAN_TAG images already built (default: build them first
#                  with scripts/docker-build.sh, which runs cargo)
#   --static-only  only the checks that need no Docker engine (configs, manifests, promtool)
#   --keep         leave the Compose stack running at the end (for debugging; prints how to stop it)
# Environment:
#   TYMPAN_DATASET_DIR  the FSDD recordings (default: ../shared/datasets/fsdd/recordings beside
#                       the repository)
#   TYMPAN_TAG          image tag (default: local)
#   TYMPAN_COMPOSE      compose command, e.g. "docker-compose" (default: `docker compose` when the
#                       plugin answers, else docker-compose)
#   CARGO_TARGET_DIR    passed to scripts/docker-build.sh
#
# Needs: bash, curl, python3 (pip), and as root it installs what is missing: Debian's prometheus
# (promtool + server) and kubernetes-validate from PyPI. The stack test needs a Docker engine and
# is skipped, with a message, only when none answers.
# Ends with the line "containers: N passed, N failed, N skipped"; exits 1 when a check failed.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=${TYMPAN_TAG:-local}
build=1
static_only=0
keep=0
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        --static-only) static_only=1 ;;
        --keep) keep=1 ;;
        -h | --help)
            sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "test-containers: unknown argument '$arg'" >&2
            exit 2
            ;;
    esac
done

passed=0
failed=0
skipped=0
failures=()
t0=$(date +%s)
pass() {
    passed=$((passed + 1))
    echo "  ok    $*"
}
fail() {
    failed=$((failed + 1))
    failures+=("$*")
    echo "  FAIL  $*"
}
skip() {
    skipped=$((skipped + 1))
    echo "  SKIP  $*"
}
section() { echo "== $* ($(($(date +%s) - t0)) s)"; }
# check NAME COMMAND...: runs the command quietly, passes or fails NAME (output shown on failure).
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        pass "$name"
    else
        fail "$name"
        printf '%s\n' "$out" | tail -n 20 | sed 's/^/        /'
    fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/tympan-test-containers.XXXXXX")
prom_pid=""
host_serve_pid=""
project=""
compose_cmd=()
cleanup() {
    local rc=$?
    [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
    [ -n "$host_serve_pid" ] && kill "$host_serve_pid" 2>/dev/null && wait "$host_serve_pid" 2>/dev/null
    if [ -n "$project" ] && [ "$keep" = 0 ]; then
        compose down -v --remove-orphans --timeout 10 >/dev/null 2>&1
    fi
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# json FILE EXPR: prints a Python expression over the parsed JSON document `d`.
json() {
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
# wait_for SECONDS COMMAND...: retries the command every second until it succeeds.
wait_for() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 1
    done
}
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

dataset=${TYMPAN_DATASET_DIR:-$repo/../shared/datasets/fsdd/recordings}
[ -d "$dataset" ] && dataset=$(cd "$dataset" && pwd)

# ---------------------------------------------------------------------------------------------
section "tools"
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    echo "  installing Debian's prometheus package (promtool, server)"
    as_root apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus \
        >"$work/apt.log" 2>&1 || tail -n 5 "$work/apt.log"
fi
if ! python3 -c 'import kubernetes_validate, yaml' 2>/dev/null; then
    echo "  installing kubernetes-validate from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check 'kubernetes-validate==1.37.0' \
        >"$work/pip.log" 2>&1 || tail -n 5 "$work/pip.log"
fi
if [ -n "${TYMPAN_COMPOSE:-}" ]; then
    read -r -a compose_cmd <<<"$TYMPAN_COMPOSE"
elif docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then
    compose_cmd=(docker-compose)
fi
compose() { "${compose_cmd[@]}" -p "$project" -f "$repo/docker/compose.yml" "$@"; }
echo "  compose: ${compose_cmd[*]:-none}; promtool: $(command -v promtool || echo none); dataset: $dataset"

# ---------------------------------------------------------------------------------------------
section "compose file"
compose_tools=()
docker compose version >/dev/null 2>&1 && compose_tools+=("docker compose")
command -v docker-compose >/dev/null && compose_tools+=("docker-compose")
if [ ${#compose_tools[@]} = 0 ]; then
    fail "no compose tool (docker compose or docker-compose) to check docker/compose.yml"
fi
for tool in "${compose_tools[@]}"; do
    read -r -a t <<<"$tool"
    check "$tool config (default services)" env TYMPAN_DATASET_DIR="$dataset" "${t[@]}" -f "$repo/docker/compose.yml" config -q
    check "$tool config --profile monitoring --profile tools" env TYMPAN_DATASET_DIR="$dataset" \
        "${t[@]}" -f "$repo/docker/compose.yml" --profile monitoring --profile tools config -q
    check "$tool config --profile scale" env TYMPAN_DATASET_DIR="$dataset" \
        "${t[@]}" -f "$repo/docker/compose.yml" --profile scale config -q
    # (docker-compose 1.x lists every service whatever the profiles; `docker compose` only those
    # of the active profiles: with all of them active, both list the same.)
    services=$(env TYMPAN_DATASET_DIR="$dataset" "${t[@]}" -f "$repo/docker/compose.yml" --profile monitoring \
        --profile tools --profile scale config --services 2>/dev/null | sort | tr '\n' ' ')
    expected="cli grafana import init postgres prometheus reporting serve-1 serve-2 serve-3 serving-api "
    check "$tool: services are $expected" \
        bash -c 'test "$1" = "$2" || { echo "got: $1"; false; }' _ "$services" "$expected"
done
# The stack's invariants, read from the resolved configuration.
if [ ${#compose_tools[@]} -gt 0 ]; then
    read -r -a t <<<"${compose_tools[0]}"
    env TYMPAN_DATASET_DIR="$dataset" "${t[@]}" -f "$repo/docker/compose.yml" --profile monitoring --profile tools \
        --profile scale config >"$work/compose.resolved.yml" 2>"$work/compose.err"
    check "compose invariants (non-root, read-only, loopback ports, start order, healthcheck, scale profile)" python3 - "$work/compose.resolved.yml" <<'EOF'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
s = c["services"]
errors = []
for name in ("init", "serving-api", "reporting", "cli"):
    svc = s[name]
    if str(svc.get("user")) != "10001:10001": errors.append(f"{name}: user is {svc.get('user')}")
    if svc.get("read_only") is not True: errors.append(f"{name}: root filesystem not read-only")
    if "ALL" not in svc.get("cap_drop", []): errors.append(f"{name}: capabilities kept")
    if not any(str(t).startswith("/tmp") for t in svc.get("tmpfs", [])): errors.append(f"{name}: no /tmp tmpfs")
for name in ("serving-api", "reporting"):
    dep = s[name].get("depends_on", {}).get("init", {})
    if dep.get("condition") != "service_completed_successfully":
        errors.append(f"{name}: does not wait for init to complete successfully")
if s["init"].get("command") != ["bootstrap"]: errors.append("init does not run `tympan bootstrap`")
if "healthcheck" not in s["serving-api"]: errors.append("serving-api has no healthcheck")
for name, svc in s.items():
    for p in svc.get("ports", []):
        ip = p.get("host_ip") if isinstance(p, dict) else str(p).split(":")[0]
        if ip != "127.0.0.1": errors.append(f"{name}: port {p} not published on loopback by default")
for v in ("data", "artifacts", "reports"):
    if v not in c.get("volumes", {}): errors.append(f"volume {v} missing")
for name in ("prometheus", "grafana"):
    img = s[name]["image"]
    if ":" not in img or img.endswith(":latest"): errors.append(f"{name}: image {img} not pinned")
    if s[name].get("profiles") != ["monitoring"]: errors.append(f"{name}: not in the monitoring profile")
if s["cli"].get("profiles") != ["tools"]: errors.append("cli: not in the tools profile")
for name in ("init", "serving-api", "reporting"):
    if s[name].get("profiles"): errors.append(f"{name}: in a profile, so not started by default")
# The scale profile: PostgreSQL (official image), a one-shot import, three replicas on the database.
replicas = ("serve-1", "serve-2", "serve-3")
for name in ("postgres", "import") + replicas:
    if s[name].get("profiles") != ["scale"]: errors.append(f"{name}: not in the scale profile")
    svc = s[name]
    if svc.get("read_only") is not True: errors.append(f"{name}: root filesystem not read-only")
    if "ALL" not in svc.get("cap_drop", []): errors.append(f"{name}: capabilities kept")
pg = s["postgres"]
if pg["image"] != "postgres:15": errors.append(f"postgres: image {pg['image']} is not the official postgres:15")
if "pg_isready" not in pg.get("healthcheck", {}).get("test", []): errors.append("postgres: healthcheck does not run pg_isready")
if pg.get("ports"): errors.append("postgres: publishes a port")
if str(pg.get("user")) != "999:999": errors.append(f"postgres: user is {pg.get('user')}, not the image's 999:999")
def mount(v):  # docker-compose 1.x resolves "source:target:mode", `docker compose` a mapping
    return (v.get("source"), v.get("target")) if isinstance(v, dict) else tuple(str(v).split(":")[:2])
if ("postgres-data", "/var/lib/postgresql/data") not in [mount(v) for v in pg.get("volumes", [])]:
    errors.append("postgres: no named volume for its data")
if not str(pg.get("environment", {}).get("PGDATA", "")).startswith("/var/lib/postgresql/data/"):
    errors.append("postgres: PGDATA is not a subdirectory of its volume")
for var in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
    if not pg.get("environment", {}).get(var): errors.append(f"postgres: no {var}")
imp = s["import"]
if imp.get("command") != ["import", "--data", "/data", "--artifacts", "/artifacts", "--if-empty"]:
    errors.append(f"import: command is {imp.get('command')}")
if imp.get("depends_on", {}).get("init", {}).get("condition") != "service_completed_successfully":
    errors.append("import: does not wait for init to complete successfully")
urls = set()
for name in ("import",) + replicas:
    svc = s[name]
    url = svc.get("environment", {}).get("TYMPAN_DATABASE_URL") or ""
    urls.add(url)
    if not url.startswith("postgres://") or "@postgres:5432/" not in url: errors.append(f"{name}: TYMPAN_DATABASE_URL is {url!r}")
    if svc.get("depends_on", {}).get("postgres", {}).get("condition") != "service_healthy":
        errors.append(f"{name}: does not wait for postgres to be healthy")
    if str(svc.get("user")) != "10001:10001": errors.append(f"{name}: user is {svc.get('user')}")
    if "database" not in svc.get("networks", {}): errors.append(f"{name}: not on the database network")
if len(urls) != 1: errors.append(f"the scale services use different database URLs: {urls}")
for name in replicas:
    svc = s[name]
    if svc.get("depends_on", {}).get("import", {}).get("condition") != "service_completed_successfully":
        errors.append(f"{name}: does not wait for import to complete successfully")
    if "healthcheck" not in svc: errors.append(f"{name}: no healthcheck")
if len({s[n]["environment"].get("TYMPAN_REPLICA") for n in replicas}) != 3: errors.append("replicas do not have distinct TYMPAN_REPLICA names")
if c.get("networks", {}).get("database", {}).get("internal") is not True: errors.append("network database is not internal")
print("\n".join(errors))
sys.exit(1 if errors else 0)
EOF
    # A second, independent parser of the Compose Specification (the compose_spec Rust crate, from
    # PyPI) reads the file as docker-compose resolved it: a guard for `docker compose` v2, which
    # this machine may not have. (It does not expand YAML merge keys, hence the resolved file.)
    if python3 -m pip install --quiet --disable-pip-version-check --target "$work/pylib" 'compose-spec==0.2.1' \
        >"$work/pip-compose-spec.log" 2>&1; then
        check "compose_spec (a second Compose Specification parser) reads the resolved file" \
            env PYTHONPATH="$work/pylib" python3 -c '
import sys, compose_spec
c = compose_spec.PyCompose.from_yaml(open(sys.argv[1]).read())
assert sorted(c.service_names()) == ["cli", "grafana", "import", "init", "postgres", "prometheus", "reporting",
                                    "serve-1", "serve-2", "serve-3", "serving-api"], c.service_names()
' "$work/compose.resolved.yml"
    else
        skip "compose_spec could not be installed from PyPI: second parser not run"
    fi
fi

# ---------------------------------------------------------------------------------------------
section "Dockerfiles"
# The runtime stages of the multi-stage docker/Dockerfile must stay the images that
# scripts/docker-build.sh makes from docker/Dockerfile.<image>.
for image in serve report cli; do
    check "docker/Dockerfile stage '$image' matches docker/Dockerfile.$image" python3 - "$repo/docker" "$image" <<'EOF'
import re, sys
d, image = sys.argv[1], sys.argv[2]
def instrs(text):
    text = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.append(re.sub(r"\s+", " ", line))
    return out
multi = open(f"{d}/Dockerfile").read()
stage = re.search(rf"^FROM scratch AS {image}\n(.*?)(?=^FROM |\Z)", multi, re.S | re.M).group(1)
single = open(f"{d}/Dockerfile.{image}").read()
a = [i for i in instrs(stage) if not i.startswith("COPY")]
b = [i for i in instrs(single) if not i.startswith(("COPY", "FROM"))]
if a != b:
    import difflib
    print("\n".join(difflib.unified_diff(b, a, "Dockerfile." + image, "Dockerfile stage", lineterm="")))
    sys.exit(1)
copies_a = [re.sub(r"--from=build |/out/", "", i) for i in instrs(stage) if i.startswith("COPY")]
copies_b = [i for i in instrs(single) if i.startswith("COPY")]
if copies_a != copies_b:
    print(copies_a, copies_b)
    sys.exit(1)
EOF
done

# ---------------------------------------------------------------------------------------------
section "Kubernetes manifests"
if python3 -c 'import kubernetes_validate' 2>/dev/null; then
    manifests=()
    for f in "$repo"/docker/k8s/*.yaml; do
        [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
    done
    for version in 1.29.0 1.37.0; do
        check "kubernetes-validate --strict (Kubernetes $version): ${#manifests[@]} files" \
            python3 -m kubernetes_validate --strict --quiet -k "$version" "${manifests[@]}"
    done
    check "manifest consistency (scripts/check-k8s.py)" python3 "$repo/scripts/check-k8s.py" "$repo/docker/k8s"

    # The scale-out overlay (docker/k8s-scale-out, on top of docker/k8s): its own resource files
    # (not its patches), then the whole overlay as scripts/check-k8s-overlay.py renders it (and,
    # where kubectl is installed, as kustomize itself renders it, which must be the same).
    overlay=$repo/docker/k8s-scale-out
    overlay_manifests=()
    for f in "$overlay"/*.yaml; do
        case "$(basename "$f")" in
            kustomization.yaml | patch-*.yaml) ;;
            *) overlay_manifests+=("$f") ;;
        esac
    done
    for version in 1.29.0 1.37.0; do
        check "kubernetes-validate --strict (Kubernetes $version): ${#overlay_manifests[@]} scale-out overlay files" \
            python3 -m kubernetes_validate --strict --quiet -k "$version" "${overlay_manifests[@]}"
    done
    overlay_args=(--render "$work/scale-out.rendered.yaml")
    if command -v kubectl >/dev/null; then
        if check "kubectl kustomize docker/k8s-scale-out" \
            bash -c 'kubectl kustomize "$1" >"$2"' _ "$overlay" "$work/scale-out.kustomized.yaml"; then
            overlay_args+=(--kustomized "$work/scale-out.kustomized.yaml")
        fi
    else
        skip "kubectl is not installed: the overlay is rendered by scripts/check-k8s-overlay.py only"
    fi
    check "scale-out overlay consistency (scripts/check-k8s-overlay.py)" \
        python3 "$repo/scripts/check-k8s-overlay.py" "$overlay" "${overlay_args[@]}"
    for version in 1.29.0 1.37.0; do
        check "kubernetes-validate --strict (Kubernetes $version): the rendered scale-out overlay" \
            python3 -m kubernetes_validate --strict --quiet -k "$version" "$work/scale-out.rendered.yaml"
    done
else
    fail "kubernetes-validate is not installed and could not be installed from PyPI"
fi

# ---------------------------------------------------------------------------------------------
section "Prometheus and Grafana configuration"
mon=$repo/docker/monitoring
if command -v promtool >/dev/null; then
    check "promtool check config docker/monitoring/prometheus.yml" promtool check config "$mon/prometheus.yml"
    check "promtool check rules docker/monitoring/alerts.yml" promtool check rules "$mon/alerts.yml"
    check "promtool test rules docker/monitoring/alerts.test.yml" bash -c "cd '$mon' && promtool test rules alerts.test.yml"
else
    fail "promtool is not installed and could not be installed (Debian package prometheus)"
fi
check "Grafana provisioning: dashboard JSON, datasource uid, metric names exported by tympan-serve" \
    python3 - "$mon" "$repo/serve/src/metrics.rs" <<'EOF'
import json, re, sys, yaml
mon, metrics_rs = sys.argv[1], sys.argv[2]
ds = yaml.safe_load(open(f"{mon}/grafana/provisioning/datasources/prometheus.yml"))["datasources"][0]
prov = yaml.safe_load(open(f"{mon}/grafana/provisioning/dashboards/tympan.yml"))["providers"][0]
dash = json.load(open(f"{mon}/grafana/dashboards/tympan.json"))
errors = []
if ds["url"] != "http://prometheus:9090": errors.append(f"datasource url {ds['url']}")
if prov["options"]["path"] != "/etc/grafana/dashboards": errors.append("dashboard provider path")
exported = set(re.findall(r'"(tympan_[a-z0-9_]+)"', open(metrics_rs).read()))
exprs = []
for p in dash["panels"]:
    if p.get("datasource", {}).get("uid") != ds["uid"]:
        errors.append(f"panel {p['title']}: datasource uid is not {ds['uid']}")
    for t in p.get("targets", []):
        exprs.append(t["expr"])
alerts = yaml.safe_load(open(f"{mon}/alerts.yml"))
exprs += [r["expr"] for g in alerts["groups"] for r in g["rules"]]
used = set()
for e in exprs:
    used |= set(re.findall(r"\btympan_[a-z0-9_]+", e))
for name in sorted(used):
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    if name not in exported and base not in exported:
        errors.append(f"{name} is used by the dashboard or alerts but not exported by tympan-serve")
wanted = {"tympan_http_requests_total", "tympan_http_request_duration_seconds_bucket", "tympan_predictions_total",
          "tympan_feedback_rows", "tympan_retrainings_total", "tympan_model_info", "tympan_report_drift_share",
          "tympan_report_f1"}
for w in sorted(wanted - used):
    errors.append(f"the dashboard does not show {w}")
print("\n".join(errors))
sys.exit(1 if errors else 0)
EOF

# prom_scrape_check HOST:PORT: a real Prometheus (Debian's) scrapes the API, evaluates the alert
# rules and answers every query of the Grafana dashboard.
prom_scrape_check() {
    local target=$1 pport pdir url
    if ! command -v prometheus >/dev/null; then
        fail "Prometheus server not installed: no real scrape"
        return
    fi
    pport=$(free_port)
    pdir=$work/prometheus
    mkdir -p "$pdir"
    cp "$mon/alerts.yml" "$pdir/alerts.yml"
    cat >"$pdir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [alerts.yml]
scrape_configs:
  - job_name: tympan
    static_configs:
      - targets: ["$target"]
EOF
    prometheus --config.file="$pdir/prometheus.yml" --storage.tsdb.path="$pdir/tsdb" \
        --web.listen-address="127.0.0.1:$pport" --log.level=warn >"$pdir/log" 2>&1 &
    prom_pid=$!
    url=http://127.0.0.1:$pport
    if ! wait_for 30 curl -sf "$url/-/ready"; then
        fail "Prometheus did not start"
        tail -n 5 "$pdir/log" | sed 's/^/        /'
        return
    fi
    up_is_1() {
        curl -sfG "$url/api/v1/query" --data-urlencode 'query=up{job="tympan"}' -o "$pdir/up.json" &&
            [ "$(json "$pdir/up.json" 'd["data"]["result"][0]["value"][1] if d["data"]["result"] else ""')" = 1 ]
    }
    check "Prometheus scrapes $target: up{job=\"tympan\"} == 1" wait_for 30 up_is_1
    check "Prometheus holds tympan_ series, evaluates the 7 alert rules and answers every dashboard query" \
        python3 - "$url" "$repo/docker/monitoring/grafana/dashboards/tympan.json" <<'EOF'
import json, sys, time, urllib.parse, urllib.request
url, dash_path = sys.argv[1], sys.argv[2]
def get(path, **q):
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(q)}", timeout=10) as r:
        return json.load(r)
errors = []
names = get("/api/v1/label/__name__/values")["data"]
tympan = [n for n in names if n.startswith("tympan_")]
if len(tympan) < 8:
    errors.append(f"only {len(tympan)} tympan_ series names: {tympan}")
for _ in range(20):
    rules = [r for g in get("/api/v1/rules")["data"]["groups"] for r in g["rules"]]
    if len(rules) == 7 and all(r.get("health") == "ok" for r in rules):
        break
    time.sleep(1)
else:
    errors.append(f"alert rules not all loaded and healthy: {[(r['name'], r.get('health'), r.get('lastError')) for r in rules]}")
dash = json.load(open(dash_path))
exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
exprs += [a["expr"] for a in dash["annotations"]["list"] if "expr" in a]
empty = []
for e in exprs:
    q = e.replace("$__rate_interval", "1m").replace("$__range", "5m").replace("$endpoint", ".*")
    r = get("/api/v1/query", query=q)
    if r.get("status") != "success":
        errors.append(f"query failed: {q}: {r}")
    elif not r["data"]["result"]:
        empty.append(q)
print(f"{len(tympan)} tympan_ series names, {len(exprs)} dashboard queries, {len(empty)} with no data yet")
print("\n".join(errors))
sys.exit(1 if errors else 0)
EOF
    kill "$prom_pid" 2>/dev/null
    wait "$prom_pid" 2>/dev/null
    prom_pid=""
}

# ---------------------------------------------------------------------------------------------
docker_ok=0
if [ "$static_only" = 1 ]; then
    section "Docker"
    skip "images and stack test (--static-only)"
elif ! command -v docker >/dev/null || ! timeout 20 docker info >/dev/null 2>&1; then
    section "Docker"
    echo "  *** No Docker engine answers here: the image and stack tests are SKIPPED. ***"
    skip "images and stack test: no Docker engine"
    docker_ok=0
else
    docker_ok=1
fi

if [ "$docker_ok" = 0 ] && [ "$static_only" = 0 ]; then
    # Still scrape a real server: tympan-serve run on the host, if a binary is at hand.
    serve_bin=""
    for b in "${CARGO_TARGET_DIR:-$repo/target}/$(uname -m)-unknown-linux-gnu/release/tympan-serve" \
        "${CARGO_TARGET_DIR:-$repo/target}/release/tympan-serve"; do
        [ -x "$b" ] && serve_bin=$b && break
    done
    if [ -n "$serve_bin" ] && [ -d "$dataset" ]; then
        section "Prometheus scrape of tympan-serve run on the host"
        hport=$(free_port)
        mkdir -p "$work/host"
        (cd "$work/host" && exec "$serve_bin" --address 127.0.0.1 --port "$hport" --data data \
            --artifacts artifacts --reports reports --dataset "$dataset" >serve.log 2>&1) &
        host_serve_pid=$!
        if wait_for 120 curl -sf "http://127.0.0.1:$hport/ready"; then
            curl -sf --data-binary @"$dataset/0_george_0.wav" "http://127.0.0.1:$hport/predict" >/dev/null
            prom_scrape_check "127.0.0.1:$hport"
        else
            fail "tympan-serve on the host did not become ready"
        fi
        kill "$host_serve_pid" 2>/dev/null
        wait "$host_serve_pid" 2>/dev/null
        host_serve_pid=""
    else
        skip "Prometheus scrape: no Docker engine and no tympan-serve binary built"
    fi
fi

if [ "$docker_ok" = 1 ]; then
    # -----------------------------------------------------------------------------------------
    section "images"
    if [ "$build" = 1 ]; then
        if "$repo/scripts/docker-build.sh" >"$work/build.log" 2>&1; then
            pass "scripts/docker-build.sh built tympan/{serve,report,cli}:$tag ($(grep -o 'binaries built in [0-9]* s' "$work/build.log" || echo 'no cargo'))"
        else
            fail "scripts/docker-build.sh"
            tail -n 30 "$work/build.log" | sed 's/^/        /'
        fi
    fi
    for image in serve report cli; do
        ref=tympan/$image:$tag
        if ! docker image inspect "$ref" >/dev/null 2>&1; then
            fail "image $ref does not exist"
            continue
        fi
        size=$(docker image inspect -f '{{.Size}}' "$ref")
        user=$(docker image inspect -f '{{.Config.User}}' "$ref")
        echo "  $ref: $((size / 1000000)).$(((size % 1000000) / 100000)) MB, user $user"
        check "$ref runs as 10001:10001" test "$user" = "10001:10001"
        check "$ref has the OCI labels" test "$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.title"}}' "$ref")" = "tympan-$image"
        # The file tree: nothing but the binaries, passwd/group, /tmp (1777) and the state folders.
        cid=$(docker create "$ref")
        docker export -o "$work/$image.tar" "$cid"
        docker rm "$cid" >/dev/null
        check "$ref is FROM scratch: no shell, /tmp is 1777, /data /artifacts /reports belong to 10001" python3 - "$work/$image.tar" "$image" <<'EOF'
import stat, sys, tarfile
entries = {m.name.rstrip("/"): m for m in tarfile.open(sys.argv[1])}
errors = []
for p in ("bin/sh", "bin/busybox", "usr/bin/env"):
    if p in entries: errors.append(f"{p} present")
tmp = entries.get("tmp")
if not tmp or stat.S_IMODE(tmp.mode) != 0o1777: errors.append(f"tmp mode {oct(tmp.mode) if tmp else None}")
for d in ("data", "artifacts", "reports"):
    m = entries.get(d)
    if not m or not m.isdir() or (m.uid, m.gid) != (10001, 10001): errors.append(f"/{d} owner {(m.uid, m.gid) if m else None}")
bins = {"serve": ["tympan-serve"], "report": ["tympan-report"], "cli": ["tympan", "tympan-embed", "tympan-tune"]}[sys.argv[2]]
for b in bins:
    m = entries.get(f"usr/local/bin/{b}")
    if not m or not m.isfile() or not m.mode & 0o111 or m.uid != 0: errors.append(f"usr/local/bin/{b} missing or not root-owned")
# What the image holds beyond what Docker adds to every container (.dockerenv, etc/hosts..., mount points).
own = [p for p in entries if not p.startswith(("dev", "proc", "sys")) and p not in
       (".dockerenv", "etc/hostname", "etc/hosts", "etc/mtab", "etc/resolv.conf")]
extra = set(own) - {"etc", "etc/passwd", "etc/group", "tmp", "data", "artifacts", "reports", "usr", "usr/local",
                    "usr/local/bin"} - {f"usr/local/bin/{b}" for b in bins}
if extra: errors.append(f"unexpected files: {sorted(extra)}")
print("\n".join(errors))
sys.exit(1 if errors else 0)
EOF
        rm -f "$work/$image.tar"
        check "$ref: the binary runs in the image (--version)" docker run --rm --network none --read-only "$ref" --version
    done
    if docker image inspect tympan/serve:"$tag" >/dev/null 2>&1; then
        size=$(docker image inspect -f '{{.Size}}' tympan/serve:"$tag")
        check "tympan/serve:$tag is at most 30 MB ($size bytes)" test "$size" -le 30000000
        check "tympan/serve:$tag has a HEALTHCHECK running 'tympan-serve healthcheck'" \
            bash -c "docker image inspect -f '{{json .Config.Healthcheck.Test}}' tympan/serve:$tag | grep -q '\"healthcheck\"'"
        check "'tympan-serve healthcheck' exits 1 when nothing answers" \
            bash -c "! docker run --rm --network none tympan/serve:$tag healthcheck --url http://127.0.0.1:9/health"
        # shellcheck disable=SC2016
        check "tympan-serve with no model exits 1 and says to run 'tympan bootstrap'" \
            bash -c 'out=$(docker run --rm --network none "$1" 2>&1) && exit 1; grep -q "tympan bootstrap" <<<"$out"' _ tympan/serve:"$tag"
    fi
    if docker image inspect tympan/cli:"$tag" >/dev/null 2>&1; then
        check "'tympan bootstrap' exists in tympan/cli (the compose init service and the k8s Job run it)" \
            docker run --rm --network none tympan/cli:"$tag" bootstrap --help
        check "'tympan tune' runs in tympan/cli" \
            docker run --rm --network none tympan/cli:"$tag" tune --help
    fi

    # -----------------------------------------------------------------------------------------
    section "Compose stack"
    if [ ${#compose_cmd[@]} = 0 ]; then
        fail "no compose tool: stack test not run"
    elif [ ! -d "$dataset" ]; then
        fail "dataset folder $dataset not found (set TYMPAN_DATASET_DIR): stack test not run"
    else
        stack_t0=$(date +%s)
        project="tympantest$$$(date +%s)"
        port=$(free_port)
        base=http://127.0.0.1:$port
        export TYMPAN_TAG=$tag TYMPAN_DATASET_DIR=$dataset TYMPAN_BIND=127.0.0.1 TYMPAN_HTTP_PORT=$port \
            TYMPAN_RETRAIN_EVERY=5 TYMPAN_REPORT_EVERY=5s TYMPAN_PROMOTION_MARGIN=1
        echo "  project $project, API on $base"
        healthy() {
            local c
            c=$(compose ps -q serving-api 2>/dev/null)
            [ -n "$c" ] && [ "$(docker inspect -f '{{.State.Health.Status}}' "$c" 2>/dev/null)" = healthy ]
        }
        if ! timeout 300 "${compose_cmd[@]}" -p "$project" -f "$repo/docker/compose.yml" up -d >"$work/up.log" 2>&1; then
            fail "compose up -d"
            tail -n 20 "$work/up.log" | sed 's/^/        /'
            compose logs --no-color init serving-api 2>&1 | tail -n 20 | sed 's/^/        /'
        elif ! wait_for 120 healthy; then
            fail "serving-api did not become healthy within 120 s"
            compose logs --no-color 2>&1 | tail -n 30 | sed 's/^/        /'
        else
            pass "compose up: init completed, serving-api healthy in $(($(date +%s) - stack_t0)) s"
            api=$(compose ps -q serving-api)
            init=$(compose ps -q init 2>/dev/null || true)
            [ -n "$init" ] || init=$(docker ps -aq --filter "label=com.docker.compose.project=$project" \
                --filter "label=com.docker.compose.service=init")
            check "init exited 0" test "$(docker inspect -f '{{.State.ExitCode}}' "$init")" = 0
            check "serving-api runs as 10001:10001 on a read-only root" \
                test "$(docker inspect -f '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}' "$api")" = "10001:10001 true"
            check "GET /health and /ready answer 200" bash -c "curl -sf $base/health && curl -sf $base/ready"
            check "POST /admin/reload is refused (403) when no TYMPAN_ADMIN_TOKEN is set" \
                test "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/admin/reload")" = 403
            curl -sf "$base/model" -o "$work/model1.json"
            v1=$(json "$work/model1.json" 'd["version"]' 2>/dev/null)
            check "GET /model names the bootstrapped version ($v1)" test -n "$v1"

            # Real FSDD clips of george, digits 0..9: the bootstrapped model was trained on them.
            correct=0
            for d in 0 1 2 3 4 5 6 7 8 9; do
                if curl -sf -H 'Content-Type: audio/wav' --data-binary @"$dataset/${d}_george_0.wav" \
                    "$base/predict" -o "$work/predict.json"; then
                    [ "$(json "$work/predict.json" 'd["label"]')" = "$d" ] && correct=$((correct + 1))
                fi
            done
            check "POST /predict on 10 FSDD clips: $correct/10 right (at least 8)" test "$correct" -ge 8
            check "POST /predict answers label, probabilities and model_version" \
                json "$work/predict.json" 'd["label"] and len(d["probabilities"]) == 10 and d["model_version"]'

            # TYMPAN_RETRAIN_EVERY=5: the fifth feedback row starts a retraining.
            fb_ok=0
            for d in 1 2 3 4 5; do
                curl -sf -F "file=@$dataset/${d}_jackson_1.wav" -F "target=$d" "$base/feedback" \
                    -o "$work/feedback.json" && fb_ok=$((fb_ok + 1))
            done
            check "POST /feedback (multipart) accepted 5 rows" test "$fb_ok" = 5
            check "POST /feedback answers rows and rows_until_retrain" \
                json "$work/feedback.json" '"rows" in d and "rows_until_retrain" in d'
            new_version() {
                curl -sf "$base/model" -o "$work/model2.json" &&
                    [ "$(json "$work/model2.json" 'd["version"]')" != "$v1" ]
            }
            if wait_for 60 new_version; then
                v2=$(json "$work/model2.json" 'd["version"]')
                pass "retraining after 5 feedback rows: GET /model went from $v1 to $v2"
            else
                v2=""
                fail "the model version did not change within 60 s of the fifth feedback row"
            fi
            curl -sf "$base/metrics" -o "$work/metrics.txt"
            check "GET /metrics: tympan_retrainings_total, tympan_predictions_total, tympan_feedback_rows 5" \
                bash -c "grep -q '^tympan_retrainings_total' '$work/metrics.txt' &&
                         grep -q '^tympan_predictions_total{label=' '$work/metrics.txt' &&
                         grep -q '^tympan_feedback_rows 5' '$work/metrics.txt'"

            # The volumes: prod_data.csv in data; the reporting service's outputs in reports.
            check "data volume: prod_data.csv has a header and 5 rows" bash -c \
                "docker cp '$api:/data/prod_data.csv' '$work/prod_data.csv' && test \$(wc -l <'$work/prod_data.csv') = 6"
            report_written() {
                compose logs --no-color reporting 2>/dev/null | grep -q ' drift: '
            }
            check "the reporting service wrote a report (its log: '... drift: ...')" wait_for 60 report_written
            check "reports volume: report.html, report.json (valid JSON) and history.jsonl" bash -c \
                "docker cp '$api:/reports/report.html' '$work/report.html' && grep -qi '<html' '$work/report.html' &&
                 docker cp '$api:/reports/report.json' '$work/report.json' && python3 -m json.tool '$work/report.json' >/dev/null &&
                 docker cp '$api:/reports/history.jsonl' '$work/history.jsonl' && test -s '$work/history.jsonl'"
            check "GET /report answers the HTML report" bash -c \
                "curl -sf '$base/report' | grep -qi '<html'"
            check "GET /dashboard answers the history page" bash -c \
                "curl -sf '$base/dashboard' | grep -qi '<html'"
            check "cli image (tools profile): 'tympan models list' shows both versions" bash -c \
                "${compose_cmd[*]} -p $project -f '$repo/docker/compose.yml' --profile tools run --rm cli models list >'$work/models.txt' 2>&1 &&
                 grep -q '$v1' '$work/models.txt' && grep -q '^\* $v2' '$work/models.txt'"

            # Monitoring: a real Prometheus scrapes the published API.
            prom_scrape_check "127.0.0.1:$port"

            # Re-running the stack re-runs init, which must keep the retrained model.
            if timeout 300 "${compose_cmd[@]}" -p "$project" -f "$repo/docker/compose.yml" up -d --force-recreate \
                >"$work/up2.log" 2>&1 && wait_for 120 healthy; then
                curl -sf "$base/model" -o "$work/model3.json"
                check "after 'up --force-recreate' init is a no-op and $v2 is still served" \
                    test "$(json "$work/model3.json" 'd["version"]')" = "$v2"
            else
                fail "compose up --force-recreate"
                tail -n 20 "$work/up2.log" | sed 's/^/        /'
            fi
        fi
        if [ "$keep" = 1 ]; then
            echo "  --keep: stack left running; stop it with:"
            echo "    ${compose_cmd[*]} -p $project -f docker/compose.yml down -v"
        else
            compose down -v --remove-orphans --timeout 10 >"$work/down.log" 2>&1
            left=$(
                docker ps -aq --filter "label=com.docker.compose.project=$project"
                docker network ls -q --filter "label=com.docker.compose.project=$project"
                docker volume ls -q --filter "label=com.docker.compose.project=$project"
            )
            check "compose down -v leaves no container, network or volume" test -z "$left"
            project=""
            echo "  stack test wall time: $(($(date +%s) - stack_t0)) s"
        fi
    fi
fi

echo
if [ "$failed" -gt 0 ]; then
    echo "failed checks:"
    printf '  %s\n' "${failures[@]}"
fi
echo "total time: $(($(date +%s) - t0)) s"
echo "containers: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
