#!/usr/bin/env bash
# Evaluates the recommender offline on MovieLens-100k, through the ml crate's own code
# (crates/podwise-ml/examples/movielens.rs: the same weighting, models and model
# selection the service trains with), and prints precision, recall, NDCG and coverage at
# 10 for every candidate model beside the popularity baseline, then one line
# `NDCG@10 <value>` for the model the validation split chose.
#
# The data comes from the `recbole==1.2.1` wheel on the Python package index, fetched with
# the ordinary pip client and checked by SHA-256; only its `ml-100k.inter` file is used.
# MovieLens is for research use under GroupLens' terms and is not redistributed by this
# project (see THIRD_PARTY.md).
#
# Protocol (printed with the results): every rating is an implicit positive (set
# PODWISE_EVAL_MIN_RATING=4 to keep only ratings of 4 and 5), per-user random 80/20
# holdout, full ranking over the items a user has not rated in the training part. The
# model is chosen on a validation split carved from the training part, never on the test.
#
# Time decay is off here by default: MovieLens timestamps are when people rated films,
# mostly in one sitting, not when they watched them, so the half-life meant for listening
# feedback has nothing to measure. Set PODWISE_ML_HALF_LIFE_DAYS to try it anyway.
#
# Parameters (environment):
#   PODWISE_WHEEL_CACHE      where downloaded wheels are kept (~/.cache/podwise/wheels)
#   PODWISE_EVAL_DIR         where the rating file is unpacked (./data/eval)
#   PODWISE_EVAL_SEED        the holdout's seed (2026)
#   PODWISE_EVAL_MIN_RATING  ratings below this are left out (0: none are)
#   PODWISE_ML_*             the recommender's settings, as the service reads them
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PODWISE_ROOT"

WHEEL_CACHE=${PODWISE_WHEEL_CACHE:-$HOME/.cache/podwise/wheels}
EVAL_DIR=${PODWISE_EVAL_DIR:-./data/eval}
REQUIREMENT=recbole==1.2.1
WHEEL_SHA256=9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407
MEMBER=recbole/dataset_example/ml-100k/ml-100k.inter
RATINGS=$EVAL_DIR/ml-100k.inter

mkdir -p "$WHEEL_CACHE" "$EVAL_DIR"
wheel=$(find "$WHEEL_CACHE" -maxdepth 1 -name 'recbole-1.2.1-*.whl' | head -n1)
if [[ -z $wheel ]]; then
    say "downloading $REQUIREMENT (for its copy of MovieLens-100k)"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check \
        --dest "$WHEEL_CACHE" "$REQUIREMENT" >&2
    wheel=$(find "$WHEEL_CACHE" -maxdepth 1 -name 'recbole-1.2.1-*.whl' | head -n1)
    [[ -n $wheel ]] || die "pip gave no wheel for $REQUIREMENT"
fi
if [[ $(sha256sum "$wheel" | cut -d' ' -f1) != "$WHEEL_SHA256" ]]; then
    rm -f "$wheel"
    die "$REQUIREMENT: the wheel's SHA-256 is not the one recorded here; removed it, run again"
fi
if [[ ! -s $RATINGS ]]; then
    say "unpacking $MEMBER"
    python3 - "$wheel" "$MEMBER" "$RATINGS.partial" <<'PY'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
PY
    mv "$RATINGS.partial" "$RATINGS"
fi

export PODWISE_ML_HALF_LIFE_DAYS=${PODWISE_ML_HALF_LIFE_DAYS:-0}
say "building and running the evaluation (release build)"
cargo run --quiet --release -p podwise-ml --example movielens -- "$RATINGS"
