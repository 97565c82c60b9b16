#!/usr/bin/env bash
# Builds the container images of the six services from docker/Dockerfile, and the model
# fetcher from docker/models.Dockerfile, with docker or podman, and tags each
# REGISTRY/podwise-<name>:TAG; with --push it pushes them too. The overlays refer to the
# images by these names (k8s/overlays; scripts/deploy-backend-to-k8s.sh re-points them to
# PODWISE_IMAGE_REGISTRY and PODWISE_IMAGE_TAG).
#
# The first build of an image compiles the dependencies of its service (the whole workspace
# takes about 15 CPU-minutes in release mode); after that a source change recompiles only
# the workspace's crates, as cargo-chef keeps the dependencies in a layer of their own.
# Pin the base images by digest for a release: PODWISE_RUST_IMAGE=rust:1.95-slim-bookworm@
# sha256:<digest> (`docker buildx imagetools inspect rust:1.95-slim-bookworm` prints it).
#
# Usage: build-images.sh [--push] [--help] [name ...]   (names: gateway rag ml tts stt llm
#                                                        models; all when none is given)
#
# Parameters (environment):
#   PODWISE_IMAGE_REGISTRY   registry prefix of the tags (none: local names podwise-<name>)
#   PODWISE_IMAGE_TAG        the tag (the workspace version from Cargo.toml)
#   PODWISE_CONTAINER_TOOL   docker or podman (the first one found)
#   PODWISE_RUST_IMAGE       base image of the build stages (rust:1.95-slim-bookworm)
#   PODWISE_RUNTIME_IMAGE    base image of the service images (debian:bookworm-slim)
#   PODWISE_PYTHON_IMAGE     base image of the model fetcher (python:3.11-slim-bookworm)
#   PODWISE_PLATFORM         target platform (linux/amd64: the kernels need AVX2)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

push=false
names=()
for arg in "$@"; do
    case $arg in
        --push) push=true ;;
        -h | --help) usage; exit 0 ;;
        gateway | rag | ml | tts | stt | llm | models) names+=("$arg") ;;
        *) usage >&2; exit 2 ;;
    esac
done
((${#names[@]})) || names=("${PODWISE_SERVICES[@]}" models)

cd "$PODWISE_ROOT"
tool=${PODWISE_CONTAINER_TOOL:-}
if [[ -z $tool ]]; then
    for candidate in docker podman; do
        command -v "$candidate" >/dev/null && { tool=$candidate; break; }
    done
fi
if [[ -z $tool ]] || ! command -v "$tool" >/dev/null; then
    die "no container engine: install docker or podman, or set PODWISE_CONTAINER_TOOL"
fi
"$tool" info >/dev/null 2>&1 || die "$tool is installed but reaches no engine ('$tool info' fails)"

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
tag=${PODWISE_IMAGE_TAG:-$version}
registry=${PODWISE_IMAGE_REGISTRY:-}
platform=${PODWISE_PLATFORM:-linux/amd64}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
common=(--platform "$platform" --build-arg "VERSION=$version" --build-arg "REVISION=$revision"
    --build-arg "CREATED=$created")

built=()
for name in "${names[@]}"; do
    image=${registry:+$registry/}podwise-$name:$tag
    say "building $image"
    began=$SECONDS
    if [[ $name == models ]]; then
        "$tool" build "${common[@]}" -f docker/models.Dockerfile \
            --build-arg "PYTHON_IMAGE=${PODWISE_PYTHON_IMAGE:-python:3.11-slim-bookworm}" \
            -t "$image" . >&2
    else
        "$tool" build "${common[@]}" -f docker/Dockerfile \
            --build-arg "SERVICE=$name" \
            --build-arg "RUST_IMAGE=${PODWISE_RUST_IMAGE:-rust:1.95-slim-bookworm}" \
            --build-arg "RUNTIME_IMAGE=${PODWISE_RUNTIME_IMAGE:-debian:bookworm-slim}" \
            -t "$image" . >&2
    fi
    say "built $image in $((SECONDS - began)) s"
    built+=("$image")
done

if $push; then
    for image in "${built[@]}"; do
        say "pushing $image"
        "$tool" push "$image" >&2
    done
fi
printf '%s\n' "${built[@]}"
say "deploy them with: PODWISE_IMAGE_REGISTRY=$registry PODWISE_IMAGE_TAG=$tag" \
    "scripts/deploy-backend-to-k8s.sh"
