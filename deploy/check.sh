#!/usr/bin/env bash
# Checks what can be checked of deploy/ on a machine without Docker or Kubernetes:
# the systemd unit with systemd-analyze, the Compose file and the manifests as YAML with the
# keys each tool needs, and the example configuration with voucherd itself.
#   deploy/check.sh [path/to/voucherd]
set -euo pipefail
cd "$(dirname "$0")/.."
voucherd="${1:-target/debug/voucherd}"

echo "== systemd unit"
if ! command -v systemd-analyze >/dev/null; then
  apt-get update -qq && apt-get install -y -qq systemd >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# verify wants the binary to exist where ExecStart says: point it at the one just built.
sed "s#/usr/local/bin/voucherd#$(realpath "$voucherd")#" deploy/voucherd.service > "$work/voucherd.service"
findings=$(systemd-analyze verify "$work/voucherd.service" 2>&1 || true)
if [ -n "$findings" ]; then
  echo "$findings"
  exit 1
fi
security=$(systemd-analyze security --offline=true "$work/voucherd.service" 2>/dev/null | tail -1 || true)
echo "ok ${security}"

echo "== YAML: docker-compose.yml and kubernetes/"
python3 -c "import yaml" 2>/dev/null || python3 -m pip install --quiet pyyaml
python3 - "$work/configmap.toml" <<'PY'
import sys, yaml
def documents(path):
    with open(path) as file:
        return [document for document in yaml.safe_load_all(file) if document]
compose = documents("deploy/docker-compose.yml")[0]
assert "voucherd" in compose["services"], "compose: no voucherd service"
assert compose["services"]["voucherd"]["volumes"], "compose: the data must be on a volume"
kinds = {}
for path in ["deploy/kubernetes/voucherd.yaml", "deploy/kubernetes/backup-cronjob.yaml"]:
    for document in documents(path):
        for key in ("apiVersion", "kind", "metadata"):
            assert key in document, f"{path}: a document without {key}"
        kinds[document["kind"]] = document
statefulset = kinds["StatefulSet"]["spec"]
assert statefulset["replicas"] == 1, "one writer: one replica"
assert statefulset["volumeClaimTemplates"], "the StatefulSet needs its PersistentVolumeClaim"
container = statefulset["template"]["spec"]["containers"][0]
assert "grpc" in container["readinessProbe"] and "grpc" in container["livenessProbe"], "gRPC probes"
assert "CronJob" in kinds and "Service" in kinds and "ConfigMap" in kinds
with open(sys.argv[1], "w") as file:
    file.write(kinds["ConfigMap"]["data"]["voucherd.toml"])
print("ok", ", ".join(sorted(kinds)))
PY
"$voucherd" --config "$work/configmap.toml" --check-config > /dev/null
echo "ok: the ConfigMap's voucherd.toml is a valid configuration"

echo "== example configuration"
"$voucherd" --config deploy/voucherd.example.toml --check-config > /dev/null
echo "ok"
