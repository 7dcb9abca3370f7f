#!/usr/bin/env python3
"""Consistency checks of docker/k8s that a schema cannot make (kubernetes-validate checks the schemas).

Usage: scripts/check-k8s.py [DIR]   (default: docker/k8s next to this script)

Checks: kustomization lists exactly the manifest files; names that resources refer to exist
(PVCs, ConfigMaps, volumes); selectors match the pod labels they are meant to select; every pod
satisfies the "restricted" Pod Security Standard the namespace enforces, with a read-only root
and a writable /tmp; the API's probes; images are the project's own. Prints one line per failed
check and a summary; exits 1 on any failure.
"""

import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "docker", "k8s")
UID = 10001

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
    return cond


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


kust = load(os.path.join(DIR, "kustomization.yaml"))[0]
manifests = sorted(
    f for f in os.listdir(DIR) if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml"
)
check(
    sorted(kust.get("resources", [])) == manifests,
    f"kustomization resources {sorted(kust.get('resources', []))} != files {manifests}",
)

docs = []
for f in manifests:
    for d in load(os.path.join(DIR, f)):
        docs.append((f, d))
by_kind = {}
for f, d in docs:
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    check("namespace" not in d["metadata"], f"{f}: {d['kind']}/{d['metadata']['name']} sets a namespace (kustomize sets it)")

ns = kust.get("namespace")
check(ns in by_kind.get("Namespace", {}), f"namespace {ns} of the kustomization has no Namespace manifest")
if ns in by_kind.get("Namespace", {}):
    labels = by_kind["Namespace"][ns]["metadata"].get("labels", {})
    check(labels.get("pod-security.kubernetes.io/enforce") == "restricted", "namespace does not enforce the restricted Pod Security Standard")

kust_images = {i["name"] for i in kust.get("images", [])}
pvcs = set(by_kind.get("PersistentVolumeClaim", {}))
configmaps = set(by_kind.get("ConfigMap", {}))


def pod_specs():
    for name, d in by_kind.get("Deployment", {}).items():
        yield f"Deployment/{name}", d["spec"]["template"]
    for name, d in by_kind.get("Job", {}).items():
        yield f"Job/{name}", d["spec"]["template"]
    for name, d in by_kind.get("CronJob", {}).items():
        yield f"CronJob/{name}", d["spec"]["jobTemplate"]["spec"]["template"]


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


for where, tmpl in pod_specs():
    spec = tmpl["spec"]
    psc = spec.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot is not true")
    check(psc.get("runAsUser") == UID and psc.get("runAsGroup") == UID, f"{where}: pod does not run as {UID}:{UID}")
    check(psc.get("fsGroup") == UID, f"{where}: fsGroup is not {UID} (volumes would not be writable)")
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: no RuntimeDefault seccomp profile")
    check(spec.get("automountServiceAccountToken") is False, f"{where}: mounts a service account token it does not need")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for v in volumes.values():
        if "persistentVolumeClaim" in v:
            claim = v["persistentVolumeClaim"]["claimName"]
            check(claim in pvcs, f"{where}: volume {v['name']} claims unknown PVC {claim}")
        check(
            set(v) - {"name"} <= {"persistentVolumeClaim", "emptyDir", "configMap", "secret", "projected"},
            f"{where}: volume {v['name']} has a type the restricted policy forbids",
        )
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        cw = f"{where} container {c['name']}"
        image = c["image"].rsplit(":", 1)[0]
        check(image in kust_images, f"{cw}: image {c['image']} is not listed in the kustomization images")
        sc = c.get("securityContext", {})
        check(sc.get("allowPrivilegeEscalation") is False, f"{cw}: allowPrivilegeEscalation is not false")
        check(sc.get("readOnlyRootFilesystem") is True, f"{cw}: root filesystem is not read-only")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{cw}: capabilities are not all dropped")
        check("privileged" not in sc or sc["privileged"] is False, f"{cw}: privileged")
        res = c.get("resources", {})
        check("memory" in res.get("limits", {}) and "cpu" in res.get("requests", {}), f"{cw}: no memory limit or cpu request")
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        for m in mounts.values():
            check(m["name"] in volumes, f"{cw}: mounts unknown volume {m['name']}")
        check("/tmp" in mounts, f"{cw}: no writable /tmp under a read-only root")
        for ef in c.get("envFrom", []):
            if "configMapRef" in ef:
                check(ef["configMapRef"]["name"] in configmaps, f"{cw}: unknown ConfigMap {ef['configMapRef']['name']}")

for name, d in by_kind.get("Deployment", {}).items():
    labels = d["spec"]["template"]["metadata"]["labels"]
    check(selects(d["spec"]["selector"]["matchLabels"], labels), f"Deployment/{name}: selector does not match its pod labels")
    check(d["spec"].get("replicas") == 1 and d["spec"].get("strategy", {}).get("type") == "Recreate",
          f"Deployment/{name}: the single-writer API needs replicas 1 and the Recreate strategy")
    c = d["spec"]["template"]["spec"]["containers"][0]
    check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/ready", f"Deployment/{name}: readiness probe is not GET /ready")
    check(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/health", f"Deployment/{name}: liveness probe is not GET /health")
    ports = {p.get("name") for p in c.get("ports", [])}
    for sname, s in by_kind.get("Service", {}).items():
        if selects(s["spec"]["selector"], labels):
            for p in s["spec"]["ports"]:
                check(p["targetPort"] in ports or p["targetPort"] in {pp["containerPort"] for pp in c["ports"]},
                      f"Service/{sname}: targetPort {p['targetPort']} is no port of Deployment/{name}")

deploy_labels = [d["spec"]["template"]["metadata"]["labels"] for d in by_kind.get("Deployment", {}).values()]
for sname, s in by_kind.get("Service", {}).items():
    check(any(selects(s["spec"]["selector"], l) for l in deploy_labels), f"Service/{sname}: selects no Deployment's pods")
for name, cj in by_kind.get("CronJob", {}).items():
    spec = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    terms = spec.get("affinity", {}).get("podAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution", [])
    check(any(any(selects(t["labelSelector"]["matchLabels"], l) for l in deploy_labels) for t in terms),
          f"CronJob/{name}: no pod affinity to the API's pods (its ReadWriteOnce volumes live on that node)")
    check(cj["spec"].get("concurrencyPolicy") == "Forbid", f"CronJob/{name}: overlapping runs allowed")
for name, j in by_kind.get("Job", {}).items():
    c = j["spec"]["template"]["spec"]["containers"][0]
    check(c.get("args", [None])[0] == "bootstrap", f"Job/{name}: does not run `tympan bootstrap`")
for name, np in by_kind.get("NetworkPolicy", {}).items():
    sel = np["spec"]["podSelector"]
    pods = [t["metadata"]["labels"] for _, t in pod_specs()]
    if "matchLabels" in sel:
        check(any(selects(sel["matchLabels"], l) for l in pods), f"NetworkPolicy/{name}: selects no pod")

for f in failures:
    print(f"k8s: FAILED {f}")
print(f"k8s consistency: {checks - len(failures)} of {checks} checks passed")
sys.exit(1 if failures else 0)
