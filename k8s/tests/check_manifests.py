"""Asserts the hardening and consistency rules on rendered Podwise manifests.

Usage: python3 k8s/tests/check_manifests.py RENDERED.yaml [SETTINGS_SOURCE]

RENDERED.yaml is the output of `kubectl kustomize` for one overlay; SETTINGS_SOURCE is the
Rust file that holds the services' default ports (crates/podwise-common/src/settings/
parse.rs). Every broken rule is printed as `kind/name: field: what is wrong`, and the exit
status is 1 when there is any. scripts/check-deployment.sh runs it on every overlay.
"""

import re
import sys
from collections import defaultdict

import yaml

NAMESPACE = "podwise"
SERVICES = ("gateway", "rag", "ml", "tts", "stt", "llm")
AUTOSCALED = ("gateway", "rag")
MODEL_SERVICES = ("tts", "stt", "llm")
MODEL_CLAIM = "podwise-models"
SECRET_NAME = "podwise-secrets"
# The longest model load seen is well under a minute; the start-up probe must allow more.
MIN_STARTUP_SECONDS = 120
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}
RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
# Pods that may reach public addresses: rag fetches feeds and audio, the fetcher wheels.
PUBLIC_EGRESS = {"rag", "fetch-models"}
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
DEFAULT_SETTINGS_SOURCE = "crates/podwise-common/src/settings/parse.rs"


class Findings:
    """Collects broken rules, each tied to the object and field it is about."""

    def __init__(self):
        self.problems = []

    def fail(self, obj, field, message):
        self.problems.append(f"{name_of(obj)}: {field}: {message}")

    def check(self, condition, obj, field, message):
        if not condition:
            self.fail(obj, field, message)


def name_of(obj):
    if isinstance(obj, str):
        return obj
    return f"{obj['kind'].lower()}/{obj['metadata']['name']}"


def default_ports(settings_source):
    """The services' default ports, read from the settings code so the two cannot drift."""
    text = open(settings_source, encoding="utf-8").read()
    ports = {
        name.lower(): int(port)
        for name, port in re.findall(r"\(ServiceName::(\w+), (\d+),", text)
    }
    gateway = re.search(r'p\.number\("API_PORT", (\d+)', text)
    if gateway:
        ports["gateway"] = int(gateway.group(1))
    missing = [s for s in SERVICES if s not in ports]
    if missing:
        sys.exit(f"{settings_source}: no default port found for {', '.join(missing)}")
    return ports


def pod_templates(objects):
    """(owner, pod spec, pod metadata) of every workload."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            template = obj["spec"]["template"]
            yield obj, template["spec"], template.get("metadata", {})


def check_container(findings, owner, pod, container, kind):
    where = f"{kind}[{container['name']}]"
    resources = container.get("resources", {})
    for section in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            findings.check(
                resource in resources.get(section, {}),
                owner,
                f"{where}.resources.{section}.{resource}",
                "missing",
            )
    context = container.get("securityContext", {})
    pod_context = pod.get("securityContext", {})
    findings.check(
        context.get("allowPrivilegeEscalation") is False,
        owner,
        f"{where}.securityContext.allowPrivilegeEscalation",
        "must be false",
    )
    findings.check(
        context.get("readOnlyRootFilesystem") is True,
        owner,
        f"{where}.securityContext.readOnlyRootFilesystem",
        "must be true",
    )
    findings.check(
        "ALL" in context.get("capabilities", {}).get("drop", []),
        owner,
        f"{where}.securityContext.capabilities.drop",
        "must drop ALL",
    )
    findings.check(
        not context.get("capabilities", {}).get("add"),
        owner,
        f"{where}.securityContext.capabilities.add",
        "must add none",
    )
    findings.check(
        context.get("privileged") is not True,
        owner,
        f"{where}.securityContext.privileged",
        "must not be true",
    )
    non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    findings.check(non_root is True, owner, f"{where}.runAsNonRoot", "must be true")
    user = context.get("runAsUser", pod_context.get("runAsUser"))
    findings.check(
        isinstance(user, int) and user > 0,
        owner,
        f"{where}.runAsUser",
        f"must be a fixed non-zero UID, not {user!r}",
    )
    image = container.get("image", "")
    findings.check(
        ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"),
        owner,
        f"{where}.image",
        f"{image!r} needs a tag other than latest",
    )
    # A read-only root needs somewhere to write temporary files and caches.
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    tmp = [
        m
        for m in container.get("volumeMounts", [])
        if m["mountPath"] == "/tmp" and "emptyDir" in volumes.get(m["name"], {})
    ]
    findings.check(bool(tmp), owner, f"{where}.volumeMounts", "no emptyDir on /tmp")


def check_probes(findings, owner, container):
    where = f"containers[{container['name']}]"
    readiness = container.get("readinessProbe", {})
    findings.check(
        readiness.get("httpGet", {}).get("path") == "/ready",
        owner,
        f"{where}.readinessProbe.httpGet.path",
        "must be /ready",
    )
    liveness = container.get("livenessProbe", {})
    findings.check(
        liveness.get("httpGet", {}).get("path") == "/health" or "grpc" in liveness,
        owner,
        f"{where}.livenessProbe",
        "must probe /health or gRPC health",
    )
    startup = container.get("startupProbe")
    if startup is None:
        findings.fail(owner, f"{where}.startupProbe", "missing")
        return
    allowed = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
    findings.check(
        allowed >= MIN_STARTUP_SECONDS,
        owner,
        f"{where}.startupProbe",
        f"allows {allowed} s of start-up, less than the {MIN_STARTUP_SECONDS} s models need",
    )


def check_workloads(findings, objects, by_kind):
    accounts = {o["metadata"]["name"]: o for o in by_kind["ServiceAccount"]}
    for owner, pod, metadata in pod_templates(objects):
        findings.check(
            pod.get("automountServiceAccountToken") is False,
            owner,
            "spec.template.spec.automountServiceAccountToken",
            "must be false: no service calls the Kubernetes API",
        )
        account = pod.get("serviceAccountName")
        if account not in accounts:
            findings.fail(
                owner, "spec.template.spec.serviceAccountName", f"no ServiceAccount {account!r}"
            )
        else:
            findings.check(
                accounts[account].get("automountServiceAccountToken") is False,
                accounts[account],
                "automountServiceAccountToken",
                "must be false",
            )
        seccomp = pod.get("securityContext", {}).get("seccompProfile", {}).get("type")
        findings.check(
            seccomp == "RuntimeDefault",
            owner,
            "spec.template.spec.securityContext.seccompProfile.type",
            "must be RuntimeDefault",
        )
        findings.check(
            not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"),
            owner,
            "spec.template.spec",
            "must not share the host's network, PIDs or IPC",
        )
        for container in pod.get("initContainers", []):
            check_container(findings, owner, pod, container, "initContainers")
        for container in pod["containers"]:
            check_container(findings, owner, pod, container, "containers")
            if owner["kind"] == "Deployment":
                check_probes(findings, owner, container)
                check_scrape(findings, owner, container, metadata)
                check_settings_source(findings, owner, container)


def check_scrape(findings, owner, container, metadata):
    annotations = metadata.get("annotations", {})
    ports = [str(p["containerPort"]) for p in container.get("ports", [])]
    findings.check(
        annotations.get("prometheus.io/scrape") == "true"
        and annotations.get("prometheus.io/path") == "/metrics"
        and annotations.get("prometheus.io/port") in ports,
        owner,
        "spec.template.metadata.annotations",
        "prometheus.io/scrape, /path=/metrics and /port=<the container port> are required",
    )


def check_settings_source(findings, owner, container):
    sources = container.get("envFrom", [])
    config = any(s.get("configMapRef", {}).get("name", "").startswith("podwise-config")
                 for s in sources)
    secret = any(s.get("secretRef", {}).get("name") == SECRET_NAME for s in sources)
    findings.check(
        config and secret,
        owner,
        f"containers[{container['name']}].envFrom",
        f"must read the podwise-config ConfigMap and the {SECRET_NAME} Secret",
    )


def check_services(findings, by_kind, ports):
    deployments = {o["metadata"]["name"]: o for o in by_kind["Deployment"]}
    services = {o["metadata"]["name"]: o for o in by_kind["Service"]}
    config = next(iter(by_kind["ConfigMap"]), None)
    settings = config.get("data", {}) if config else {}
    port_variable = {"gateway": "API_PORT"} | {s: f"{s.upper()}_PORT" for s in SERVICES[1:]}
    for name in SERVICES:
        deployment = deployments.get(name)
        service = services.get(name)
        if deployment is None or service is None:
            findings.fail(f"service/{name}", "-", "the Deployment and the Service must exist")
            continue
        labels = deployment["spec"]["template"]["metadata"].get("labels", {})
        selector = service["spec"].get("selector", {})
        findings.check(
            selector and all(labels.get(k) == v for k, v in selector.items()),
            service,
            "spec.selector",
            f"does not select the pods of deployment/{name}",
        )
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            target = named.get(target) if isinstance(target, str) else target
            findings.check(
                target == port["port"] == ports[name],
                service,
                f"spec.ports[{port.get('name')}]",
                f"port {port['port']} -> container port {target}: both must be {ports[name]}, "
                "the settings' default",
            )
        configured = settings.get(port_variable[name])
        findings.check(
            configured in (None, str(ports[name])),
            config or "configmap/podwise-config",
            f"data.{port_variable[name]}",
            f"{configured} is not the port the Service uses ({ports[name]})",
        )


def check_availability(findings, by_kind):
    deployments = {o["metadata"]["name"]: o for o in by_kind["Deployment"]}
    scaled = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in by_kind["HorizontalPodAutoscaler"]
    }
    for name in AUTOSCALED:
        findings.check(
            name in scaled, f"deployment/{name}", "-", "needs a HorizontalPodAutoscaler"
        )
    for name, hpa in scaled.items():
        deployment = deployments.get(name)
        if deployment is None:
            findings.fail(hpa, "spec.scaleTargetRef", f"no deployment/{name}")
            continue
        # A replica count in the Deployment would fight the autoscaler on every apply.
        findings.check(
            "replicas" not in deployment["spec"],
            deployment,
            "spec.replicas",
            "must be absent: the HorizontalPodAutoscaler owns it",
        )
        findings.check(
            hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"],
            hpa,
            "spec",
            "minReplicas exceeds maxReplicas",
        )
    budgets = by_kind["PodDisruptionBudget"]
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"].get("labels", {})
        covered = [
            b
            for b in budgets
            if all(
                labels.get(k) == v
                for k, v in b["spec"].get("selector", {}).get("matchLabels", {}).items()
            )
            and b["spec"].get("selector", {}).get("matchLabels")
        ]
        findings.check(bool(covered), deployment, "-", "no PodDisruptionBudget selects its pods")


def check_network(findings, by_kind, objects):
    policies = by_kind["NetworkPolicy"]
    deny = [
        p
        for p in policies
        if p["spec"].get("podSelector") == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    findings.check(bool(deny), "networkpolicy/*", "-", "no default-deny policy for the namespace")
    dns = [
        p
        for p in policies
        if p["spec"].get("podSelector") == {}
        and any(
            {"port": 53, "protocol": "UDP"} in rule.get("ports", [])
            for rule in p["spec"].get("egress", [])
        )
    ]
    findings.check(bool(dns), "networkpolicy/*", "-", "no policy lets pods ask the DNS")
    for policy in policies:
        selector = policy["spec"].get("podSelector", {}).get("matchLabels", {})
        owner = selector.get("app.kubernetes.io/name")
        for index, rule in enumerate(policy["spec"].get("egress", [])):
            field = f"spec.egress[{index}]"
            findings.check("to" in rule, policy, field, "allows egress to any address")
            blocks = [peer["ipBlock"] for peer in rule.get("to", []) if "ipBlock" in peer]
            if not blocks:
                continue
            # Only feeds (rag) and model wheels (the fetcher) come from outside, over the
            # web's ports, and never through an address block that reaches into the cluster.
            ports = {p.get("port") for p in rule.get("ports", [])}
            findings.check(
                owner in PUBLIC_EGRESS and ports and ports <= {80, 443},
                policy,
                field,
                f"egress to addresses is for {', '.join(sorted(PUBLIC_EGRESS))} on 80/443 only",
            )
            for block in blocks:
                findings.check(
                    set(PRIVATE_RANGES) <= set(block.get("except", [])),
                    policy,
                    f"{field}.to.ipBlock.except",
                    f"must leave out the private ranges {', '.join(PRIVATE_RANGES)}",
                )
        for index, rule in enumerate(policy["spec"].get("ingress", [])):
            findings.check("from" in rule, policy, f"spec.ingress[{index}]", "admits anyone")
    for owner, _, metadata in pod_templates(objects):
        labels = metadata.get("labels", {})
        own = [
            p
            for p in policies
            if p["spec"].get("podSelector", {}).get("matchLabels")
            and all(labels.get(k) == v for k, v in p["spec"]["podSelector"]["matchLabels"].items())
        ]
        findings.check(bool(own), owner, "-", "no NetworkPolicy of its own allows its traffic")


def check_ingress(findings, by_kind):
    ingresses = by_kind["Ingress"]
    findings.check(bool(ingresses), "ingress/*", "-", "the gateway needs an Ingress")
    for ingress in ingresses:
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                findings.check(
                    backend["name"] == "gateway",
                    ingress,
                    "spec.rules",
                    f"routes to service/{backend['name']}; only the gateway is public",
                )


def check_models(findings, by_kind):
    claims = {o["metadata"]["name"] for o in by_kind["PersistentVolumeClaim"]}
    findings.check(MODEL_CLAIM in claims, f"persistentvolumeclaim/{MODEL_CLAIM}", "-", "missing")
    for deployment in by_kind["Deployment"]:
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        volumes = {
            v["name"]: v.get("persistentVolumeClaim", {}).get("claimName")
            for v in pod.get("volumes", [])
        }
        mounts = [
            m
            for m in pod["containers"][0].get("volumeMounts", [])
            if volumes.get(m["name"]) == MODEL_CLAIM
        ]
        if name in MODEL_SERVICES:
            findings.check(
                bool(mounts) and all(m.get("readOnly") for m in mounts),
                deployment,
                "containers[0].volumeMounts",
                f"must mount {MODEL_CLAIM} read-only",
            )


def check_rbac_and_secrets(findings, by_kind):
    for kind in sorted(RBAC_KINDS):
        for obj in by_kind[kind]:
            findings.fail(obj, "-", "the services need no Kubernetes API access: no RBAC objects")
    for secret in by_kind["Secret"]:
        findings.fail(secret, "-", "credentials are never rendered; setup-k8s-env.sh makes them")


def check_namespace(findings, objects):
    for obj in objects:
        if obj["kind"] in CLUSTER_SCOPED:
            continue
        findings.check(
            obj["metadata"].get("namespace") == NAMESPACE,
            obj,
            "metadata.namespace",
            f"must be {NAMESPACE}",
        )
    findings.check(
        any(o["kind"] == "Namespace" and o["metadata"]["name"] == NAMESPACE for o in objects),
        f"namespace/{NAMESPACE}",
        "-",
        "missing",
    )


def problems(objects, ports):
    """Every broken rule among OBJECTS, given the services' default PORTS."""
    by_kind = defaultdict(list)
    for obj in objects:
        by_kind[obj["kind"]].append(obj)
    findings = Findings()
    check_namespace(findings, objects)
    check_workloads(findings, objects, by_kind)
    check_services(findings, by_kind, ports)
    check_availability(findings, by_kind)
    check_network(findings, by_kind, objects)
    check_ingress(findings, by_kind)
    check_models(findings, by_kind)
    check_rbac_and_secrets(findings, by_kind)
    return findings.problems


def load(rendered):
    with open(rendered, encoding="utf-8") as stream:
        return [o for o in yaml.safe_load_all(stream) if o]


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    rendered = sys.argv[1]
    settings_source = sys.argv[2] if len(sys.argv) == 3 else DEFAULT_SETTINGS_SOURCE
    objects = load(rendered)
    found = problems(objects, default_ports(settings_source))
    for problem in found:
        print(f"{rendered}: {problem}", file=sys.stderr)
    if found:
        print(f"{rendered}: {len(found)} problem(s)", file=sys.stderr)
        return 1
    print(f"{rendered}: {len(objects)} objects, every rule holds", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
