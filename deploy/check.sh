#!/usr/bin/env bash
# Checks what can be checked of deploy/ on a machine without Docker or Kubernetes:
# the systemd unit with systemd-analyze, the Compose files (compose-ha.yaml: PostgreSQL and two
# voucherd, parsed, never run) and the manifests as YAML with the
# keys each tool needs (the Kubernetes pod serves TLS from a Secret, probes with voucherctl over
# TLS, publishes no metrics), the pod's configuration run by voucherd itself with a throwaway
# certificate and its probe asked, and the example configuration.
#   voucherctl is expected beside voucherd (cargo builds both into target/debug).
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
python3 - <<'PY'
import os, shlex, yaml
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
assert "CronJob" in kinds and "Service" in kinds and "ConfigMap" in kinds
statefulset = kinds["StatefulSet"]["spec"]
assert statefulset["replicas"] == 1, "one writer: one replica"
assert statefulset["volumeClaimTemplates"], "the StatefulSet needs its PersistentVolumeClaim"
pod = statefulset["template"]["spec"]
container = pod["containers"][0]
environment = {variable["name"]: variable.get("value") for variable in container.get("env", [])}

# TLS, from a Secret: no plaintext opt-in, and the certificate and key on a Secret's volume.
assert "VOUCHER_ALLOW_PLAINTEXT" not in environment, \
    "StatefulSet: VOUCHER_ALLOW_PLAINTEXT is set; the manifest serves TLS and needs no plaintext"
volumes = {volume["name"]: volume for volume in pod["volumes"]}
def secret_volume_of(path, what):
    """The Secret volume a path in the container lies on, checking the file is projected."""
    for mount in container["volumeMounts"]:
        directory = mount["mountPath"].rstrip("/")
        if path.startswith(directory + "/"):
            secret = volumes[mount["name"]].get("secret")
            assert secret, f"{what} {path} is on volume {mount['name']}, not a Secret"
            assert mount.get("readOnly"), f"{what}: the Secret's volume must be mounted readOnly"
            if "items" in secret:
                projected = {item["path"] for item in secret["items"]}
                assert os.path.relpath(path, directory) in projected, \
                    f"{what} {path}: the Secret's items do not project it"
            return secret["secretName"]
    raise AssertionError(f"{what} {path} is on no mounted volume")
for key in ("VOUCHER_TLS_CERT", "VOUCHER_TLS_KEY"):
    assert environment.get(key), f"StatefulSet: {key} is not set"
secrets = {secret_volume_of(environment[key], key) for key in ("VOUCHER_TLS_CERT", "VOUCHER_TLS_KEY")}
assert len(secrets) == 1, f"the certificate and its key come from different Secrets: {secrets}"

# Probes: voucherctl health over TLS, since the kubelet's grpc probes cannot speak it.
service = kinds["Service"]
def flag(command, name):
    return command[command.index(name) + 1] if name in command else None
for kind in ("readinessProbe", "livenessProbe"):
    probe = container[kind]
    assert "exec" in probe and "grpc" not in probe, f"{kind}: an exec probe (grpc probes cannot speak TLS)"
    command = probe["exec"]["command"]
    assert os.path.basename(command[0]) == "voucherctl" and command[-1] == "health", \
        f"{kind}: runs voucherctl ... health, not {command}"
    assert (flag(command, "--addr") or "").startswith("https://"), f"{kind}: --addr must be https://"
    secret_volume_of(flag(command, "--ca-cert") or "", f"{kind} --ca-cert")
    assert flag(command, "--tls-server-name") == service["metadata"]["name"], \
        f"{kind}: --tls-server-name must be the Service's name, which the certificate carries"
    assert probe.get("timeoutSeconds"), f"{kind}: needs timeoutSeconds"
# The image puts voucherctl where the probes run it (command: the last probe's).
with open("deploy/Dockerfile") as file:
    dockerfile = file.read().replace("\\\n", " ")
copies = [line.split()[1:] for line in dockerfile.splitlines() if line.startswith("COPY --from=")]
assert any(os.path.basename(command[0]) in map(os.path.basename, copy[1:-1])
           and copy[-1].rstrip("/") == os.path.dirname(command[0]) for copy in copies), \
    f"deploy/Dockerfile does not copy voucherctl to {command[0]}"
image_environment = dict(
    item.split("=", 1)
    for line in dockerfile.splitlines() if line.startswith("ENV ")
    for item in shlex.split(line)[1:]
)
assert "VOUCHER_ALLOW_PLAINTEXT" not in image_environment, \
    "deploy/Dockerfile opts into plaintext: every pod of the manifest would inherit it"

# Metrics are not authenticated: the Service publishes none of them.
metrics_ports = {port["containerPort"] for port in container["ports"] if port.get("name") == "metrics"}
if environment.get("VOUCHER_METRICS_LISTEN"):
    metrics_ports.add(int(environment["VOUCHER_METRICS_LISTEN"].rsplit(":", 1)[1]))
for port in service["spec"]["ports"]:
    assert port.get("name") != "metrics" and port.get("targetPort") != "metrics" \
        and not {port.get("port"), port.get("targetPort")} & metrics_ports, \
        f"the Service publishes the metrics port: {port}"

# The backup speaks TLS to the Service, checking its certificate.
backup = kinds["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
backup_command = " ".join(backup.get("command", []) + backup.get("args", []))
assert f"--addr https://{service['metadata']['name']}:" in backup_command, \
    "CronJob: voucherctl must reach the Service over https://"
assert "--ca-cert " in backup_command, "CronJob: voucherctl must check the certificate (--ca-cert)"
print("ok", ", ".join(sorted(kinds)))
PY

echo "== YAML: compose-ha.yaml (PostgreSQL and an active and a standby voucherd)"
python3 - <<'PY'
import yaml
with open("deploy/compose-ha.yaml") as file:
    compose = yaml.safe_load(file)
services = compose["services"]
postgres = services["postgres"]
assert str(postgres["image"]).startswith("postgres:15"), "compose-ha: PostgreSQL 15 is the engine tested"
assert postgres.get("healthcheck", {}).get("test"), "compose-ha: postgres needs a healthcheck"
assert postgres["volumes"], "compose-ha: the database must be on a volume"
ledgers = {name: service for name, service in services.items() if name.startswith("voucherd")}
assert len(ledgers) == 2, f"compose-ha: two voucherd, not {sorted(ledgers)}"
data_volumes = set()
for name, service in ledgers.items():
    environment = service["environment"]
    store = environment.get("VOUCHER_STORE", "")
    assert store.startswith("postgres://"), f"{name}: VOUCHER_STORE is not a postgres:// URL"
    host = store.split("@", 1)[1].split(":", 1)[0]
    addresses = {network.get("ipv4_address") for network in postgres["networks"].values()}
    assert host in addresses | {"postgres"}, f"{name}: VOUCHER_STORE names {host}, not the postgres service"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy", \
        f"{name}: must wait for PostgreSQL to be healthy"
    assert service.get("healthcheck", {}).get("test"), f"{name}: needs a healthcheck"
    # The listen address is recorded in the writer lease and named to clients by the standby:
    # it must be the service's own address in the network, not 0.0.0.0.
    listen_host = environment["VOUCHER_LISTEN"].rsplit(":", 1)[0]
    own = {network.get("ipv4_address") for network in service["networks"].values()}
    assert listen_host in own, f"{name}: VOUCHER_LISTEN {listen_host} is not its address {own}"
    assert listen_host in " ".join(service["healthcheck"]["test"]), \
        f"{name}: the healthcheck must ask the address voucherd listens on"
    mounts = {volume.split(":", 1)[1]: volume.split(":", 1)[0] for volume in service["volumes"]}
    data_volume = mounts.get(environment["VOUCHER_DATA_DIR"])
    assert data_volume in compose["volumes"], f"{name}: its data directory (the token) is on no named volume"
    data_volumes.add(data_volume)
assert len(data_volumes) == 2, "compose-ha: each voucherd keeps its own data directory"
assert "voucherd-a" in ledgers["voucherd-b"]["depends_on"], \
    "compose-ha: voucherd-b starts after voucherd-a, so that voucherd-a is the active one"
print("ok compose-ha:", ", ".join(sorted(services)))
PY

echo "== the Kubernetes pod as written: its configuration, its TLS and its probe"
command -v openssl >/dev/null || (apt-get update -qq && apt-get install -y -qq openssl >/dev/null)
# Builds what the pod would see under $work/pod (the ConfigMap, a throwaway certificate in place of
# the Secret, the data volume), with the image's ENV and the manifest's env pointed there and
# free ports in place of the manifest's, then: voucherd --check-config must accept it, refuse it
# without the certificate (no plaintext opt-in anywhere), and serve it, answering the manifest's
# own probe command over TLS and nothing in plain text.
python3 - "$work/pod" "$(realpath "$voucherd")" "$(dirname "$(realpath "$voucherd")")/voucherctl" <<'PY'
import os, re, shlex, signal, socket, subprocess, sys, time, yaml
root, voucherd, voucherctl = sys.argv[1:]
assert os.access(voucherctl, os.X_OK), f"{voucherctl}: the probe needs voucherctl beside voucherd"
kinds = {}
with open("deploy/kubernetes/voucherd.yaml") as file:
    for document in yaml.safe_load_all(file):
        if document:
            kinds[document["kind"]] = document
pod = kinds["StatefulSet"]["spec"]["template"]["spec"]
container = pod["containers"][0]
volumes = {volume["name"]: volume for volume in pod["volumes"]}
service_name = kinds["Service"]["metadata"]["name"]

def free_port():
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return probe.getsockname()[1]
ports = {port["containerPort"]: free_port() for port in container["ports"]}
mounts = sorted(container["volumeMounts"], key=lambda mount: -len(mount["mountPath"]))
def local(text):
    """A path or address of the pod, as it is on this machine."""
    for mount in mounts:
        directory = mount["mountPath"].rstrip("/")
        if text == directory or text.startswith(directory + "/"):
            return os.path.join(root, mount["name"]) + text[len(directory):]
    if text.startswith("/usr/local/bin/"):
        return os.path.join(os.path.dirname(voucherctl), text[len("/usr/local/bin/"):])
    return re.sub(r":(\d+)\b", lambda match: f":{ports.get(int(match.group(1)), match.group(1))}", text)

os.makedirs(os.path.join(root, "data"), mode=0o700)
for mount in container["volumeMounts"]:
    volume = volumes.get(mount["name"], {})
    directory = os.path.join(root, mount["name"])
    if "configMap" in volume:
        os.makedirs(directory)
        for name, text in kinds["ConfigMap"]["data"].items():
            with open(os.path.join(directory, name), "w") as file:
                file.write(text)
    elif "secret" in volume:
        # A CA and a server certificate for the Service's name, as deploy/README.md makes them.
        os.makedirs(directory)
        def openssl(*arguments):
            subprocess.run(["openssl", *arguments], check=True, cwd=directory, capture_output=True)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-days", "1", "-subj", "/CN=check.sh CA", "-keyout", "ca.key", "-out", "ca.crt")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-subj", f"/CN={service_name}", "-keyout", "tls.key", "-out", "tls.csr")
        with open(os.path.join(directory, "san.ext"), "w") as file:
            file.write(f"subjectAltName=DNS:{service_name},DNS:{service_name}.default.svc\n"
                       "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", "tls.crt")
        for name in ("ca.key", "tls.csr", "san.ext", "ca.srl"):
            os.remove(os.path.join(directory, name))
        for name in os.listdir(directory):
            os.chmod(os.path.join(directory, name), volume["secret"].get("defaultMode", 0o644))

# The container's environment: the image's ENV, then the manifest's env; nothing of this shell's.
with open("deploy/Dockerfile") as file:
    dockerfile = file.read().replace("\\\n", " ")
environment = {"PATH": os.environ["PATH"]}
environment.update(item.split("=", 1) for line in dockerfile.splitlines() if line.startswith("ENV ")
                   for item in shlex.split(line)[1:])
environment.update((variable["name"], variable["value"]) for variable in container["env"])
environment = {name: local(value) for name, value in environment.items()}
arguments = [local(argument) for argument in container.get("args", [])]

def run(command, env, timeout=30):
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
checked = run([voucherd, *arguments, "--check-config"], environment)
assert checked.returncode == 0, f"voucherd refuses the manifest's configuration:\n{checked.stderr}"
print("ok: voucherd --check-config accepts the manifest's configuration with TLS, without allow_plaintext")
plain = {name: value for name, value in environment.items() if not name.startswith("VOUCHER_TLS_")}
refused = run([voucherd, *arguments, "--check-config"], plain)
assert refused.returncode == 2 and "allow_plaintext" in refused.stderr, \
    f"without the certificate the same configuration must be refused:\n{refused.stderr}"
print("ok: without the certificate the same configuration is refused (allow_plaintext is not set)")

log = open(os.path.join(root, "voucherd.log"), "w")
server = subprocess.Popen([voucherd, *arguments], env=environment, stdout=log, stderr=log)
try:
    probe = container["readinessProbe"]
    command = [local(part) for part in probe["exec"]["command"]]
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = run(command, environment, timeout=probe["timeoutSeconds"])
            if answer.returncode == 0:
                break
        except subprocess.TimeoutExpired:
            answer = None
        assert server.poll() is None, f"voucherd stopped (exit {server.returncode}):\n" + \
            open(os.path.join(root, "voucherd.log")).read()
        assert time.monotonic() < deadline, f"the probe never passed: {answer and answer.stderr}"
        time.sleep(0.5)
    assert answer.stdout == "SERVING\n", answer.stdout
    print("ok: the probe's command passes over TLS:", " ".join(command[1:]))
    address = [part for part in command if part.startswith("https://")][0]
    cleartext = run([command[0], "--addr", address.replace("https://", "http://"), "health"], environment)
    assert cleartext.returncode != 0, "voucherd answered gRPC in plain text"
    print("ok: plain text is not answered")
finally:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
assert server.returncode == 0, f"voucherd exited {server.returncode} on SIGTERM"
PY

echo "== example configuration"
"$voucherd" --config deploy/voucherd.example.toml --check-config > /dev/null
echo "ok"
