"""Proves each rule of check_manifests.py can fail: breaks a rendered overlay one way at a
time and expects the checker to name the object and field that was broken.

Usage: python3 k8s/tests/test_check_manifests.py RENDERED.yaml [SETTINGS_SOURCE]

RENDERED.yaml must pass the checker as it is (that is checked first). Prints one line
`N passed, N failed` at the end and exits 1 if any breakage went unnoticed.
"""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import check_manifests as checker  # noqa: E402


def find(objects, kind, name):
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise LookupError(f"{kind}/{name} is not in the rendered overlay")


def pod(objects, name):
    return find(objects, "Deployment", name)["spec"]["template"]["spec"]


def container(objects, name):
    return pod(objects, name)["containers"][0]


def remove(objects, kind, name):
    objects.remove(find(objects, kind, name))


def open_egress(objects):
    find(objects, "NetworkPolicy", "gateway")["spec"]["egress"].append({})


def public_egress(objects):
    find(objects, "NetworkPolicy", "gateway")["spec"]["egress"].append(
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]}
    )


def cluster_reach(objects):
    rule = find(objects, "NetworkPolicy", "rag")["spec"]["egress"][-1]
    rule["to"][0]["ipBlock"]["except"] = ["10.0.0.0/8"]


def config_port(objects):
    config = next(o for o in objects if o["kind"] == "ConfigMap")
    config["data"]["RAG_PORT"] = "9001"


def add(obj):
    return lambda objects: objects.append(obj)


# (what is broken, how, text the checker must print)
BREAKAGES = [
    (
        "gateway without a readiness probe",
        lambda o: container(o, "gateway").pop("readinessProbe"),
        "deployment/gateway: containers[gateway].readinessProbe.httpGet.path",
    ),
    (
        "rag's liveness probe on another path",
        lambda o: container(o, "rag")["livenessProbe"]["httpGet"].update(path="/"),
        "deployment/rag: containers[rag].livenessProbe",
    ),
    (
        "a start-up probe too short for model loading",
        lambda o: container(o, "llm")["startupProbe"].update(failureThreshold=3),
        "deployment/llm: containers[llm].startupProbe: allows 15 s",
    ),
    (
        "rag without a memory limit",
        lambda o: container(o, "rag")["resources"]["limits"].pop("memory"),
        "deployment/rag: containers[rag].resources.limits.memory",
    ),
    (
        "an init container without a CPU request",
        lambda o: pod(o, "stt")["initContainers"][0]["resources"]["requests"].pop("cpu"),
        "deployment/stt: initContainers[wait-for-models].resources.requests.cpu",
    ),
    (
        "ml allowed to run as root",
        lambda o: pod(o, "ml")["securityContext"].update(runAsNonRoot=False),
        "deployment/ml: containers[ml].runAsNonRoot",
    ),
    (
        "tts running as UID 0",
        lambda o: container(o, "tts")["securityContext"].update(runAsUser=0),
        "deployment/tts: containers[tts].runAsUser",
    ),
    (
        "a writable root filesystem",
        lambda o: container(o, "tts")["securityContext"].update(readOnlyRootFilesystem=False),
        "deployment/tts: containers[tts].securityContext.readOnlyRootFilesystem",
    ),
    (
        "privilege escalation in an init container",
        lambda o: pod(o, "llm")["initContainers"][0]["securityContext"].update(
            allowPrivilegeEscalation=True
        ),
        "deployment/llm: initContainers[wait-for-models].securityContext.allowPrivilegeEscalation",
    ),
    (
        "capabilities kept",
        lambda o: container(o, "gateway")["securityContext"]["capabilities"].update(drop=[]),
        "deployment/gateway: containers[gateway].securityContext.capabilities.drop",
    ),
    (
        "a capability added",
        lambda o: container(o, "gateway")["securityContext"]["capabilities"].update(
            add=["NET_ADMIN"]
        ),
        "deployment/gateway: containers[gateway].securityContext.capabilities.add",
    ),
    (
        "no temporary volume for a read-only root",
        lambda o: container(o, "ml").update(volumeMounts=[]),
        "deployment/ml: containers[ml].volumeMounts: no emptyDir on /tmp",
    ),
    (
        "an image without a tag",
        lambda o: container(o, "ml").update(image="podwise-ml"),
        "deployment/ml: containers[ml].image",
    ),
    (
        "the seccomp profile dropped",
        lambda o: pod(o, "rag")["securityContext"].pop("seccompProfile"),
        "deployment/rag: spec.template.spec.securityContext.seccompProfile.type",
    ),
    (
        "the host network shared",
        lambda o: pod(o, "rag").update(hostNetwork=True),
        "deployment/rag: spec.template.spec: must not share",
    ),
    (
        "a service account token mounted",
        lambda o: pod(o, "gateway").update(automountServiceAccountToken=True),
        "deployment/gateway: spec.template.spec.automountServiceAccountToken",
    ),
    (
        "a service account that mounts tokens",
        lambda o: find(o, "ServiceAccount", "rag").update(automountServiceAccountToken=True),
        "serviceaccount/rag: automountServiceAccountToken",
    ),
    (
        "a service port other than the settings' default",
        lambda o: find(o, "Service", "stt")["spec"]["ports"][0].update(port=8009),
        "service/stt: spec.ports[http]: port 8009",
    ),
    (
        "a container port other than the Service's",
        lambda o: container(o, "llm")["ports"][0].update(containerPort=9005),
        "service/llm: spec.ports[http]: port 8005 -> container port 9005",
    ),
    (
        "a Service that selects nothing",
        lambda o: find(o, "Service", "ml")["spec"].update(
            selector={"app.kubernetes.io/name": "nothing"}
        ),
        "service/ml: spec.selector",
    ),
    (
        "a ConfigMap port unlike the Service's",
        config_port,
        "data.RAG_PORT: 9001",
    ),
    (
        "no scrape annotations",
        lambda o: find(o, "Deployment", "stt")["spec"]["template"]["metadata"].pop(
            "annotations"
        ),
        "deployment/stt: spec.template.metadata.annotations",
    ),
    (
        "no Secret in envFrom",
        lambda o: container(o, "ml").update(envFrom=container(o, "ml")["envFrom"][:1]),
        "deployment/ml: containers[ml].envFrom",
    ),
    (
        "a replica count beside the autoscaler",
        lambda o: find(o, "Deployment", "gateway")["spec"].update(replicas=3),
        "deployment/gateway: spec.replicas",
    ),
    (
        "rag without an autoscaler",
        lambda o: remove(o, "HorizontalPodAutoscaler", "rag"),
        "deployment/rag: -: needs a HorizontalPodAutoscaler",
    ),
    (
        "ml without a disruption budget",
        lambda o: remove(o, "PodDisruptionBudget", "ml"),
        "deployment/ml: -: no PodDisruptionBudget",
    ),
    (
        "no default-deny policy",
        lambda o: remove(o, "NetworkPolicy", "default-deny"),
        "no default-deny policy",
    ),
    (
        "no DNS policy",
        lambda o: remove(o, "NetworkPolicy", "allow-dns"),
        "no policy lets pods ask the DNS",
    ),
    (
        "egress to anywhere",
        open_egress,
        "networkpolicy/gateway: spec.egress[",
    ),
    (
        "the gateway reaching public addresses",
        public_egress,
        "networkpolicy/gateway: spec.egress[7]: egress to addresses is for",
    ),
    (
        "rag's feed egress reaching into the cluster",
        cluster_reach,
        "networkpolicy/rag: spec.egress[6].to.ipBlock.except",
    ),
    (
        "a service without a policy of its own",
        lambda o: remove(o, "NetworkPolicy", "tts"),
        "deployment/tts: -: no NetworkPolicy of its own",
    ),
    (
        "an Ingress to a backend service",
        lambda o: find(o, "Ingress", "gateway")["spec"]["rules"][0]["http"]["paths"][0][
            "backend"
        ]["service"].update(name="rag"),
        "ingress/gateway: spec.rules: routes to service/rag",
    ),
    (
        "the model volume writable by a service",
        lambda o: container(o, "stt")["volumeMounts"][1].update(readOnly=False),
        "deployment/stt: containers[0].volumeMounts: must mount podwise-models read-only",
    ),
    (
        "no model volume",
        lambda o: remove(o, "PersistentVolumeClaim", "podwise-models"),
        "persistentvolumeclaim/podwise-models: -: missing",
    ),
    (
        "a Role binding",
        add(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "gateway", "namespace": "podwise"},
            }
        ),
        "rolebinding/gateway: -: the services need no Kubernetes API access",
    ),
    (
        "a rendered Secret",
        add(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "podwise-secrets", "namespace": "podwise"},
            }
        ),
        "secret/podwise-secrets: -: credentials are never rendered",
    ),
    (
        "an object outside the namespace",
        lambda o: find(o, "Service", "rag")["metadata"].update(namespace="default"),
        "service/rag: metadata.namespace",
    ),
]


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    settings_source = sys.argv[2] if len(sys.argv) == 3 else checker.DEFAULT_SETTINGS_SOURCE
    ports = checker.default_ports(settings_source)
    pristine = checker.load(sys.argv[1])
    before = checker.problems(copy.deepcopy(pristine), ports)
    if before:
        sys.exit(f"{sys.argv[1]} must pass before it is broken; it has: {before}")

    passed = failed = 0
    for what, breaking, expected in BREAKAGES:
        objects = copy.deepcopy(pristine)
        breaking(objects)
        found = checker.problems(objects, ports)
        if any(expected in problem for problem in found):
            passed += 1
        else:
            failed += 1
            print(f"FAILED: {what}: expected '{expected}', got {found}", file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
