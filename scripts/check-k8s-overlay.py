#!/usr/bin/env python3
"""Consistency checks of the scale-out overlay docker/k8s-scale-out (kustomize on top of docker/k8s).

Usage: scripts/check-k8s-overlay.py [DIR] [--render FILE] [--kustomized FILE]
  DIR               the overlay (default: docker/k8s-scale-out next to this script)
  --render FILE     write the resources this script rendered (multi-document YAML), e.g. for
                    kubernetes-validate
  --kustomized FILE the output of `kubectl kustomize DIR`: check it equals this script's rendering

It builds the overlay itself, with the part of kustomize the overlay uses: resources (files and
kustomization folders), JSON 6902 patches (inline or `path:`; ops add, remove, replace, move,
test) with a group/version/kind/name target, namespace, labels without selectors, images. Then
it checks what a schema cannot: the files the kustomization lists exist (and every manifest file
of the folder is listed); every patch targets exactly one resource of the base; the API
Deployment runs 3 replicas with rolling updates, readiness on /ready, TYMPAN_DATABASE_URL from a
Secret key of the overlay, TYMPAN_REPLICA from the pod name, no PersistentVolumeClaim, a
Service with ClientIP session affinity; the PodDisruptionBudget selects the API pods and allows one disruption; PostgreSQL is a StatefulSet of
the official image with a volumeClaimTemplate, a pg_isready readiness probe, its credentials from
the Secret, PGDATA below its volume, and a Service that selects it; the report CronJob exports
the database's rows with an init container into a volume its report container reads; the
bootstrap Job imports what it bootstrapped; NetworkPolicies let exactly the database's clients
reach it; every pod satisfies the "restricted" Pod Security Standard with a read-only root;
the Tympan pods run the project's own images. Prints one line per failed check and a summary;
exits 1 on any failure.
"""

import argparse
import copy
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
UID = 10001
PG_UID = 999
OWN_IMAGES = {"tympan/serve", "tympan/report", "tympan/cli"}
OFFICIAL_POSTGRES = re.compile(r"^(docker\.io/(library/)?)?postgres:15(\.\d+)*(-alpine|-bookworm|-bullseye)?$")

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("dir", nargs="?", default=os.path.join(HERE, "..", "docker", "k8s-scale-out"))
parser.add_argument("--render", metavar="FILE")
parser.add_argument("--kustomized", metavar="FILE")
args = parser.parse_args()
DIR = os.path.normpath(args.dir)

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
    return bool(cond)


def finish():
    for f in failures:
        print(f"k8s overlay: FAILED {f}")
    print(f"k8s overlay consistency: {checks - len(failures)} of {checks} checks passed")
    sys.exit(1 if failures else 0)


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


# --- JSON 6902 (RFC 6902) on parsed YAML --------------------------------------------------------


class PatchError(Exception):
    pass


def pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"bad JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def index(container, token, adding=False):
    if token == "-" and adding:
        return len(container)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise PatchError(f"bad list index {token!r}")
    i = int(token)
    if i > len(container) or (i == len(container) and not adding):
        raise PatchError(f"list index {i} out of range ({len(container)} items)")
    return i


def walk(doc, tokens):
    """The container holding the last token's target."""
    node = doc
    for t in tokens[:-1]:
        if isinstance(node, dict):
            if t not in node:
                raise PatchError(f"no {t!r} on the path")
            node = node[t]
        elif isinstance(node, list):
            node = node[index(node, t)]
        else:
            raise PatchError(f"{t!r}: not a map or list")
    return node


def get(doc, path):
    tokens = pointer(path)
    if not tokens:
        return doc
    parent = walk(doc, tokens)
    t = tokens[-1]
    if isinstance(parent, dict):
        if t not in parent:
            raise PatchError(f"{path}: not found")
        return parent[t]
    if isinstance(parent, list):
        return parent[index(parent, t)]
    raise PatchError(f"{path}: not found")


def remove(doc, path):
    tokens = pointer(path)
    parent = walk(doc, tokens)
    t = tokens[-1]
    if isinstance(parent, dict):
        if t not in parent:
            raise PatchError(f"remove {path}: not found")
        return parent.pop(t)
    if isinstance(parent, list):
        return parent.pop(index(parent, t))
    raise PatchError(f"remove {path}: not found")


def add(doc, path, value):
    tokens = pointer(path)
    parent = walk(doc, tokens)
    t = tokens[-1]
    if isinstance(parent, dict):
        parent[t] = value
    elif isinstance(parent, list):
        parent.insert(index(parent, t, adding=True), value)
    else:
        raise PatchError(f"add {path}: parent is not a map or list")


def json6902(doc, ops):
    for op in ops:
        kind, path = op.get("op"), op.get("path")
        if kind == "add":
            add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            remove(doc, path)
        elif kind == "replace":
            get(doc, path)
            remove(doc, path)
            add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "move":
            add(doc, path, remove(doc, op["from"]))
        elif kind == "test":
            if get(doc, path) != op["value"]:
                raise PatchError(f"test {path}: {get(doc, path)!r} is not {op['value']!r}")
        else:
            raise PatchError(f"op {kind!r} is not implemented here")


# --- the kustomize subset ------------------------------------------------------------------------


def group_version(d):
    gv = d.get("apiVersion", "")
    return tuple(gv.split("/", 1)) if "/" in gv else ("", gv)


def targets(resources, target):
    unknown = set(target) - {"group", "version", "kind", "name"}
    if unknown:
        raise PatchError(f"target fields {sorted(unknown)} are not implemented here")
    found = []
    for d in resources:
        group, version = group_version(d)
        if (
            target.get("kind", d["kind"]) == d["kind"]
            and target.get("name", d["metadata"]["name"]) == d["metadata"]["name"]
            and target.get("group", group) == group
            and target.get("version", version) == version
        ):
            found.append(d)
    return found


def pod_templates(d):
    kind = d["kind"]
    if kind in ("Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet"):
        return [d["spec"]["template"]]
    if kind == "CronJob":
        return [d["spec"]["jobTemplate"]["spec"]["template"]]
    return []


def containers(spec):
    return spec.get("initContainers", []) + spec.get("containers", [])


def split_image(image):
    name, tag = image, None
    if "@" in name:
        name = name.split("@", 1)[0]
    elif ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    return name, tag


def build(d, images=True, visited=()):
    """(rendered resources, the kustomization); raises PatchError on what is not implemented here."""
    d = os.path.normpath(d)
    if d in visited:
        raise PatchError(f"{d}: cycle")
    kust = load(os.path.join(d, "kustomization.yaml"))[0]
    unsupported = set(kust) - {"apiVersion", "kind", "namespace", "labels", "resources", "images", "patches"}
    if unsupported:
        raise PatchError(f"{d}/kustomization.yaml: {sorted(unsupported)} are not implemented here")
    resources = []
    for r in kust.get("resources", []):
        p = os.path.join(d, r)
        if os.path.isdir(p):
            resources += build(p, images, visited + (d,))[0]
        else:
            resources += load(p)
    for patch in kust.get("patches", []):
        text = patch["patch"] if "patch" in patch else open(os.path.join(d, patch["path"])).read()
        ops = yaml.safe_load(text)
        if not isinstance(ops, list):
            raise PatchError(f"{d}: only JSON 6902 patches are implemented here (a strategic merge patch was given)")
        for res in targets(resources, patch.get("target", {})):
            json6902(res, ops)
    ns = kust.get("namespace")
    for res in resources:
        if ns and res["kind"] not in ("Namespace", "PersistentVolume", "ClusterRole", "ClusterRoleBinding"):
            res["metadata"]["namespace"] = ns
        if ns and res["kind"] == "Namespace":
            res["metadata"]["name"] = ns
        for label in kust.get("labels", []):
            if label.get("includeSelectors") or label.get("includeTemplates"):
                raise PatchError("labels with includeSelectors or includeTemplates are not implemented here")
            res["metadata"].setdefault("labels", {}).update(label["pairs"])
        for tmpl in pod_templates(res) if images else []:
            for c in containers(tmpl["spec"]):
                name, tag = split_image(c["image"])
                for img in kust.get("images", []):
                    if img["name"] == name:
                        new_name = img.get("newName", name)
                        if "digest" in img:
                            c["image"] = f"{new_name}@{img['digest']}"
                        else:
                            new_tag = img.get("newTag", tag)
                            c["image"] = f"{new_name}:{new_tag}" if new_tag else new_name
    return resources, kust


# --- files and patches --------------------------------------------------------------------------

kust_path = os.path.join(DIR, "kustomization.yaml")
if not check(os.path.isfile(kust_path), f"{kust_path} does not exist"):
    finish()
kust = load(kust_path)[0]
bases = [r for r in kust.get("resources", []) if os.path.isdir(os.path.join(DIR, r))]
files = [r for r in kust.get("resources", []) if r not in bases]
for r in files:
    check(os.path.isfile(os.path.join(DIR, r)), f"resource {r} of the kustomization does not exist")
check(len(bases) == 1, f"the overlay has {len(bases)} base folders, not 1: {bases}")
for b in bases:
    check(os.path.isfile(os.path.join(DIR, b, "kustomization.yaml")), f"base {b} has no kustomization.yaml")
    check(
        not os.path.normpath(os.path.join(DIR, b)).startswith(os.path.normpath(DIR) + os.sep)
        and not DIR.startswith(os.path.normpath(os.path.join(DIR, b)) + os.sep),
        f"base {b} and the overlay contain one another (kustomize refuses that as a cycle)",
    )
patch_files = [p["path"] for p in kust.get("patches", []) if "path" in p]
for p in patch_files:
    check(os.path.isfile(os.path.join(DIR, p)), f"patch file {p} does not exist")
manifests = sorted(
    f for f in os.listdir(DIR)
    if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml" and not f.startswith("patch-")
)
check(sorted(files) == manifests, f"kustomization resources {sorted(files)} != manifest files {manifests}")
for p in patch_files:
    check(os.path.basename(p).startswith("patch-"), f"patch file {p} is not named patch-*.yaml")
if failures:
    finish()

try:
    base = []
    for b in bases:
        base += build(os.path.join(DIR, b))[0]
except (PatchError, KeyError, OSError) as e:
    check(False, f"building the base: {e}")
    finish()
base_kust = load(os.path.join(DIR, bases[0], "kustomization.yaml"))[0]
own = {}
for f in files:
    for d in load(os.path.join(DIR, f)):
        own[(d["kind"], d["metadata"]["name"])] = d
        check("namespace" not in d["metadata"], f"{f}: {d['kind']}/{d['metadata']['name']} sets a namespace (kustomize sets it)")
        check((d["kind"], d["metadata"]["name"]) not in {(r["kind"], r["metadata"]["name"]) for r in base},
              f"{f}: {d['kind']}/{d['metadata']['name']} is in the base already (a patch would change it)")
for patch in kust.get("patches", []):
    t = patch.get("target", {})
    what = f"patch of {t.get('kind')}/{t.get('name')}"
    try:
        check(len(targets(base, t)) == 1, f"{what}: targets {len(targets(base, t))} resources of the base, not 1")
    except PatchError as e:
        check(False, f"{what}: {e}")
check(kust.get("namespace") == base_kust.get("namespace"),
      f"overlay namespace {kust.get('namespace')} is not the base's {base_kust.get('namespace')} (the overlay's own resources would land elsewhere)")
check({i["name"] for i in base_kust.get("images", [])} <= {i["name"] for i in kust.get("images", [])},
      "the overlay does not list every image of the base (an image set in the base is not set on the containers the patches add)")

try:
    rendered, _ = build(DIR)
except (PatchError, KeyError, OSError) as e:
    check(False, f"applying the overlay: {e}")
    finish()
# The same without the images transformers: the images the files and patches themselves name.
raw_images = {}
try:
    for res in build(DIR, images=False)[0]:
        for tmpl in pod_templates(res):
            for c in containers(tmpl["spec"]):
                raw_images[(res["kind"], res["metadata"]["name"], c["name"])] = c["image"]
except (PatchError, KeyError, OSError) as e:
    check(False, f"applying the overlay without its images: {e}")

if args.render:
    with open(args.render, "w") as f:
        yaml.safe_dump_all(rendered, f, sort_keys=False)

by_kind = {}
for d in rendered:
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    check(d["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "tympan",
          f"{d['kind']}/{d['metadata']['name']}: no label app.kubernetes.io/part-of=tympan")
    if d["kind"] != "Namespace":
        check(d["metadata"].get("namespace") == kust.get("namespace"),
              f"{d['kind']}/{d['metadata']['name']}: namespace {d['metadata'].get('namespace')}")


def selects(selector, labels):
    """A LabelSelector (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist) or a plain map."""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return all(labels.get(k) == v for k, v in selector.items())
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        k, op, vals = e["key"], e["operator"], e.get("values", [])
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and labels.get(k) in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


pods = []  # (where, resource, pod template)
for kind in ("Deployment", "StatefulSet", "Job", "CronJob"):
    for name, d in by_kind.get(kind, {}).items():
        for t in pod_templates(d):
            pods.append((f"{kind}/{name}", d, t))
secrets = by_kind.get("Secret", {})
pvcs = set(by_kind.get("PersistentVolumeClaim", {}))
configmaps = set(by_kind.get("ConfigMap", {}))
own_secrets = {name for (kind, name) in own if kind == "Secret"}


def secret_keys(name):
    s = secrets.get(name, {})
    return set(s.get("stringData", {})) | set(s.get("data", {}))


def env_of(c, name):
    return next((e for e in c.get("env", []) if e["name"] == name), None)


def from_secret(where, c, var, own_only=True):
    """Checks that variable `var` of container c comes from a key of a Secret the overlay defines."""
    e = env_of(c, var)
    if not check(e is not None, f"{where} container {c['name']}: no {var}"):
        return None
    ref = e.get("valueFrom", {}).get("secretKeyRef")
    if not check(ref is not None, f"{where} container {c['name']}: {var} does not come from a secretKeyRef"):
        return None
    check(ref["name"] in secrets and (ref["name"] in own_secrets or not own_only),
          f"{where} container {c['name']}: {var} names Secret {ref['name']}, which the overlay does not define")
    check(ref["key"] in secret_keys(ref["name"]), f"{where} container {c['name']}: Secret {ref['name']} has no key {ref['key']}")
    check(not ref.get("optional"), f"{where} container {c['name']}: {var} is optional")
    return ref


def flag(c, name):
    a = c.get("args", [])
    return a[a.index(name) + 1] if name in a and a.index(name) + 1 < len(a) else None


def mount_volume(c, path):
    """The volume mount of container c at `path` or at the closest parent folder of it."""
    best = None
    for m in c.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/") or "/"
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"]):
                best = m
    return best


# --- every pod: restricted pod security, read-only root, names that exist --------------------------

for where, res, tmpl in pods:
    spec = tmpl["spec"]
    psc = spec.get("securityContext", {})
    is_pg = any(OFFICIAL_POSTGRES.match(c["image"]) for c in containers(spec))
    uid = PG_UID if is_pg else UID
    check(psc.get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot is not true")
    check(psc.get("runAsUser") == uid and psc.get("fsGroup") == uid, f"{where}: pod does not run as uid {uid} with fsGroup {uid}")
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: no RuntimeDefault seccomp profile")
    check(spec.get("automountServiceAccountToken") is False, f"{where}: mounts a service account token it does not need")
    check("hostNetwork" not in spec and "hostPID" not in spec and "hostIPC" not in spec, f"{where}: uses a host namespace")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    claim_templates = {t["metadata"]["name"] for t in res["spec"].get("volumeClaimTemplates", [])} if res["kind"] == "StatefulSet" else set()
    for v in volumes.values():
        if "persistentVolumeClaim" in v:
            check(v["persistentVolumeClaim"]["claimName"] in pvcs, f"{where}: volume {v['name']} claims unknown PVC")
        check(set(v) - {"name"} <= {"persistentVolumeClaim", "emptyDir", "configMap", "secret", "projected", "ephemeral"},
              f"{where}: volume {v['name']} has a type the restricted policy forbids")
    for c in containers(spec):
        cw = f"{where} container {c['name']}"
        sc = c.get("securityContext", {})
        check(sc.get("allowPrivilegeEscalation") is False, f"{cw}: allowPrivilegeEscalation is not false")
        check(sc.get("readOnlyRootFilesystem") is True, f"{cw}: root filesystem is not read-only")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"] and not sc.get("capabilities", {}).get("add"),
              f"{cw}: capabilities are not all dropped")
        check(not sc.get("privileged"), f"{cw}: privileged")
        check(sc.get("runAsUser", uid) == uid, f"{cw}: runs as another uid than its pod")
        res_ = c.get("resources", {})
        check("memory" in res_.get("limits", {}) and "cpu" in res_.get("requests", {}), f"{cw}: no memory limit or cpu request")
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        for m in mounts.values():
            check(m["name"] in volumes or m["name"] in claim_templates, f"{cw}: mounts unknown volume {m['name']}")
        check("/tmp" in mounts, f"{cw}: no writable /tmp under a read-only root")
        for ef in c.get("envFrom", []):
            if "configMapRef" in ef:
                check(ef["configMapRef"]["name"] in configmaps, f"{cw}: unknown ConfigMap {ef['configMapRef']['name']}")
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                check(ref["name"] in secrets and ref["key"] in secret_keys(ref["name"]),
                      f"{cw}: {e['name']} reads {ref['name']}/{ref['key']}, which does not exist")
        image = raw_images.get((res["kind"], res["metadata"]["name"], c["name"]), c["image"])
        if is_pg:
            check(OFFICIAL_POSTGRES.match(image), f"{cw}: image {image} is not the official postgres:15")
        else:
            name, tag = split_image(image)
            check(name in OWN_IMAGES, f"{cw}: image {image} is not one of the project's own ({sorted(OWN_IMAGES)})")
            check(name in {i["name"] for i in kust.get("images", [])}, f"{cw}: image {name} is not listed in the overlay's images")

# --- the API --------------------------------------------------------------------------------------

serve = [(w, r, t) for w, r, t in pods if r["kind"] == "Deployment"
         and any(split_image(raw_images.get((r["kind"], r["metadata"]["name"], c["name"]), ""))[0] == "tympan/serve"
                 for c in t["spec"]["containers"])]
if check(len(serve) == 1, f"{len(serve)} Deployments run tympan/serve, not 1"):
    where, dep, tmpl = serve[0]
    spec = dep["spec"]
    serve_labels = tmpl["metadata"]["labels"]
    check(spec.get("replicas") == 3, f"{where}: replicas {spec.get('replicas')}, not 3")
    strategy = spec.get("strategy", {})
    check(strategy.get("type") == "RollingUpdate" and strategy.get("rollingUpdate", {}).get("maxUnavailable") == 1,
          f"{where}: strategy {strategy} is not RollingUpdate with maxUnavailable 1")
    check(selects(spec["selector"], serve_labels), f"{where}: selector does not match its pod labels")
    c = tmpl["spec"]["containers"][0]
    check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/ready", f"{where}: readiness probe is not GET /ready")
    check(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/health", f"{where}: liveness probe is not GET /health")
    from_secret(where, c, "TYMPAN_DATABASE_URL")
    replica = env_of(c, "TYMPAN_REPLICA")
    check(replica is not None and replica.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name",
          f"{where}: TYMPAN_REPLICA is not the pod's name (fieldRef metadata.name)")
    for v in tmpl["spec"].get("volumes", []):
        check("persistentVolumeClaim" not in v, f"{where}: volume {v['name']} is a PersistentVolumeClaim (ReadWriteOnce, shared by {spec.get('replicas')} pods)")
    pdbs = [p for p in by_kind.get("PodDisruptionBudget", {}).values() if selects(p["spec"]["selector"], serve_labels)]
    check(len(pdbs) == 1, f"{len(pdbs)} PodDisruptionBudgets select the API pods, not 1")
    for p in pdbs:
        ps = p["spec"]
        ok = ps.get("maxUnavailable") == 1 or (isinstance(ps.get("minAvailable"), int) and 1 <= ps["minAvailable"] <= spec.get("replicas", 1) - 1)
        check(ok, f"PodDisruptionBudget/{p['metadata']['name']}: {ps} does not let exactly a drain proceed with {spec.get('replicas')} replicas")
    for sname, s in by_kind.get("Service", {}).items():
        if selects(s["spec"]["selector"], serve_labels):
            check(s["spec"].get("sessionAffinity") == "ClientIP",
                  f"Service/{sname}: no ClientIP session affinity (a feedback by prediction_id must reach the replica that predicted)")
            names = {p.get("name") for p in c.get("ports", [])} | {p["containerPort"] for p in c.get("ports", [])}
            for p in s["spec"]["ports"]:
                check(p["targetPort"] in names, f"Service/{sname}: targetPort {p['targetPort']} is no port of {where}")

# --- PostgreSQL ----------------------------------------------------------------------------------

sts = list(by_kind.get("StatefulSet", {}).values())
if check(len(sts) == 1, f"{len(sts)} StatefulSets, not 1 (PostgreSQL)"):
    st = sts[0]
    where = f"StatefulSet/{st['metadata']['name']}"
    spec = st["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    check(spec.get("replicas", 1) == 1, f"{where}: replicas {spec.get('replicas')}, not 1")
    check(selects(spec["selector"], pod_labels), f"{where}: selector does not match its pod labels")
    vcts = {t["metadata"]["name"]: t for t in spec.get("volumeClaimTemplates", [])}
    check(vcts, f"{where}: no volumeClaimTemplate")
    c = spec["template"]["spec"]["containers"][0]
    check(OFFICIAL_POSTGRES.match(c["image"]), f"{where}: image {c['image']} is not the official postgres:15")
    probe = c.get("readinessProbe", {}).get("exec", {}).get("command", [])
    check(probe[:1] == ["pg_isready"], f"{where}: readiness probe {probe} does not run pg_isready")
    for var in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
        from_secret(where, c, var)
    data_mount = next((m for m in c.get("volumeMounts", []) if m["name"] in vcts), None)
    pgdata = (env_of(c, "PGDATA") or {}).get("value", "")
    if check(data_mount is not None, f"{where}: no volumeClaimTemplate is mounted"):
        check(pgdata.startswith(data_mount["mountPath"].rstrip("/") + "/"),
              f"{where}: PGDATA {pgdata!r} is not a subdirectory of its volume {data_mount['mountPath']} (initdb wants an empty folder it owns)")
    mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
    check("/var/run/postgresql" in mounts, f"{where}: no writable /var/run/postgresql (socket, lock file) under a read-only root")
    governing = by_kind.get("Service", {}).get(spec.get("serviceName"))
    check(governing is not None, f"{where}: serviceName {spec.get('serviceName')} is no Service")
    pg_services = [s for s in by_kind.get("Service", {}).values() if selects(s["spec"]["selector"], pod_labels)]
    check(pg_services, f"{where}: no Service selects its pods")
    port_names = {p.get("name") for p in c.get("ports", [])} | {p["containerPort"] for p in c.get("ports", [])}
    for s in pg_services:
        for p in s["spec"]["ports"]:
            check(p["port"] == 5432 and p["targetPort"] in port_names,
                  f"Service/{s['metadata']['name']}: port {p['port']} -> {p['targetPort']} is not 5432 to the PostgreSQL container")
    # The URL the Tympan pods get points at that Service, with the Secret's own credentials.
    for sname in own_secrets:
        sd = secrets[sname].get("stringData", {})
        url = sd.get("url")
        if url:
            m = re.fullmatch(r"postgres(?:ql)?://([^:@/]+):([^@/]+)@([^:/]+):(\d+)/([^?]+)(\?.*)?", url)
            if check(m, f"Secret/{sname}: url is not postgres://user:password@host:port/db"):
                user, password, host, port, db = m.group(1, 2, 3, 4, 5)
                check(host.split(".")[0] in {s["metadata"]["name"] for s in pg_services} and port == "5432",
                      f"Secret/{sname}: url host {host}:{port} is not the PostgreSQL Service on 5432")
                check((user, password, db) == (sd.get("username"), sd.get("password"), sd.get("database")),
                      f"Secret/{sname}: url user/password/database differ from the username/password/database keys")

    # NetworkPolicies: PostgreSQL accepts its clients only; the clients may reach it and the DNS.
    pg_pols = [p for p in by_kind.get("NetworkPolicy", {}).values() if selects(p["spec"]["podSelector"], pod_labels)]
    clients = [(w, t["metadata"]["labels"]) for w, r, t in pods
               if any(env_of(c, "TYMPAN_DATABASE_URL") for c in containers(t["spec"]))]
    others = [(w, t["metadata"]["labels"]) for w, r, t in pods
              if not any(env_of(c, "TYMPAN_DATABASE_URL") for c in containers(t["spec"])) and t["spec"] is not spec["template"]["spec"]]
    check({w for w, _ in clients} == {w for w, r, t in pods if r["kind"] != "StatefulSet"},
          f"not every Tympan pod gets TYMPAN_DATABASE_URL: {sorted(w for w, _ in clients)}")
    if by_kind.get("NetworkPolicy") and check(pg_pols, f"{where}: no NetworkPolicy selects the PostgreSQL pods"):
        peers = []
        for p in pg_pols:
            check("Ingress" in p["spec"].get("policyTypes", []), f"NetworkPolicy/{p['metadata']['name']}: no Ingress policy type")
            for rule in p["spec"].get("ingress", []):
                check(rule.get("from"), f"NetworkPolicy/{p['metadata']['name']}: an ingress rule from anywhere")
                check([pp.get("port") for pp in rule.get("ports", [])] in ([5432], ["postgresql"]),
                      f"NetworkPolicy/{p['metadata']['name']}: ingress ports {rule.get('ports')} are not 5432 only")
                for peer in rule.get("from", []):
                    check(set(peer) == {"podSelector"}, f"NetworkPolicy/{p['metadata']['name']}: peer {peer} is not a pod of the namespace")
                    peers.append(peer.get("podSelector", {}))
        for w, labels in clients:
            check(any(selects(s, labels) for s in peers), f"{w}: PostgreSQL's NetworkPolicy does not let it in")
        for w, labels in others:
            check(not any(selects(s, labels) for s in peers), f"{w}: PostgreSQL's NetworkPolicy lets it in")
        for w, labels in clients:
            egress = [rule for p in by_kind["NetworkPolicy"].values() if selects(p["spec"]["podSelector"], labels)
                      and "Egress" in p["spec"].get("policyTypes", []) for rule in p["spec"].get("egress", [])]
            to_pg = any(any(set(peer) == {"podSelector"} and selects(peer["podSelector"], pod_labels) for peer in rule.get("to", []))
                        and 5432 in [pp.get("port") for pp in rule.get("ports", [])] for rule in egress)
            dns = any(53 in [pp.get("port") for pp in rule.get("ports", [])] for rule in egress)
            check(to_pg, f"{w}: no NetworkPolicy lets it reach PostgreSQL on 5432")
            check(dns, f"{w}: no NetworkPolicy lets it reach the cluster DNS (port 53) to resolve the database host")

# --- the report CronJob and the bootstrap Job -------------------------------------------------------

for name, cj in by_kind.get("CronJob", {}).items():
    where = f"CronJob/{name}"
    spec = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    check("podAffinity" not in spec.get("affinity", {}), f"{where}: pod affinity to the API's node, which it shares no volume with any more")
    exports = [c for c in spec.get("initContainers", []) if c.get("args", [None])[0] == "export"]
    if not check(len(exports) == 1, f"{where}: no init container runs `tympan export`"):
        continue
    e = exports[0]
    check(split_image(raw_images.get(("CronJob", name, e["name"]), ""))[0] == "tympan/cli", f"{where}: export does not run the cli image")
    from_secret(where, e, "TYMPAN_DATABASE_URL")
    out = flag(e, "--out")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    m_out = mount_volume(e, out or "")
    if check(out and m_out and not m_out.get("readOnly"), f"{where}: export --out {out} is not a writable mount"):
        check("emptyDir" in volumes.get(m_out["name"], {}), f"{where}: export writes into {m_out['name']}, not an emptyDir")
    reports = [c for c in spec["containers"] if split_image(raw_images.get(("CronJob", name, c["name"]), ""))[0] == "tympan/report"]
    if check(len(reports) == 1, f"{where}: no tympan/report container"):
        r = reports[0]
        for opt, file in (("--ref", "ref_data.csv"), ("--prod", "prod_data.csv")):
            path = flag(r, opt)
            check(out is not None and path == f"{out.rstrip('/')}/{file}", f"{where}: report {opt} {path} is not the exported {out}/{file}")
            m = mount_volume(r, path or "")
            check(m is not None and m_out is not None and m["name"] == m_out["name"] and m["mountPath"] == m_out["mountPath"],
                  f"{where}: report reads {path} from another volume than export writes")
        r_out = flag(r, "--out")
        m = mount_volume(r, r_out or "")
        check(m is not None and not m.get("readOnly"), f"{where}: report --out {r_out} is not a writable mount")

for name, job in by_kind.get("Job", {}).items():
    where = f"Job/{name}"
    spec = job["spec"]["template"]["spec"]
    boot = [c for c in spec.get("initContainers", []) if c.get("args", [None])[0] == "bootstrap"]
    imports = [c for c in spec.get("containers", []) if c.get("args", [None])[0] == "import"]
    check(len(boot) == 1, f"{where}: no init container runs `tympan bootstrap`")
    if check(len(imports) == 1, f"{where}: no container runs `tympan import`"):
        i = imports[0]
        check("--if-empty" in i["args"], f"{where}: import without --if-empty (a re-run would import over a live deployment)")
        from_secret(where, i, "TYMPAN_DATABASE_URL")
        if boot:
            env = {e["name"]: e.get("value") for e in boot[0].get("env", [])}
            for ef in boot[0].get("envFrom", []):
                cm = by_kind.get("ConfigMap", {}).get(ef.get("configMapRef", {}).get("name"), {})
                env = {**cm.get("data", {}), **env}
            for opt, var in (("--data", "TYMPAN_DATA"), ("--artifacts", "TYMPAN_ARTIFACTS")):
                path = flag(i, opt)
                mi, mb = mount_volume(i, path or ""), mount_volume(boot[0], env.get(var) or "")
                check(path == env.get(var) and mi is not None and mb is not None and mi["name"] == mb["name"],
                      f"{where}: import {opt} {path} is not the folder bootstrap wrote ({var}={env.get(var)})")

# --- against kustomize itself -------------------------------------------------------------------

if args.kustomized:
    theirs = {(d["kind"], d["metadata"]["name"]): d for d in load(args.kustomized)}
    mine = {(d["kind"], d["metadata"]["name"]): d for d in rendered}
    check(set(theirs) == set(mine), f"kustomize renders {sorted(set(theirs) ^ set(mine))} differently (present in one only)")
    for key in sorted(set(theirs) & set(mine)):
        check(theirs[key] == mine[key], f"{key[0]}/{key[1]}: kustomize renders it differently from this script")

finish()
