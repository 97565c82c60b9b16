#!/usr/bin/env python3
"""Reads the demo library (demo/) for scripts/build-demo.sh, and checks it while reading.

Each command prints plain lines (tab-separated fields) that a shell loop can read:

  check DIR                      the library is consistent, or every problem on stderr
  episodes DIR                   podcast id, guid, language, host gender, title
  script DIR GUID                the text the host says, its wrapped lines joined
  upload DIR GUID OUT            podcast.json and GUID.json in OUT, the metadata that
                                 scripts/ingest-audio-directory.sh sends with GUID.wav
  voice LANGUAGE GENDER          (voices JSON on stdin) the voice of that language,
                                 that gender if there is one
  questions DIR                  guid, then the question that cites it (questions.toml)
  listeners DIR                  name, then the preferences body as JSON
  feedback DIR NAME              kind and guid of each of that listener's events
  wav-sizes FILE                 writes the true sizes into a streamed WAV's header
  field NAME [DEFAULT]           (JSON on stdin) one top-level field
  message                        (an error body on stdin) the gateway's message, or the
                                 start of the body when it is not the gateway's JSON
  catalog-episodes               (a show's episode list on stdin) id, transcript status
                                 and title of each
  latest-jobs                    (a job list on stdin) episode id, state and job id of
                                 each episode's newest job
  state-get FILE NAME FIELD      a field of one listener in the loader's state file
  state-set FILE NAME FIELD VAL  sets it (the file is private: it holds tokens)
  state-add FILE NAME EVENT      adds EVENT to the listener's recorded feedback
  state-has FILE NAME EVENT      exits 0 when it is there, 1 when not

Only the standard library is used (Python 3.11 reads TOML).
"""

import json
import sys
import tomllib
from pathlib import Path

CATEGORIES = ("business", "education")
FEEDBACK_KINDS = ("liked", "completed", "preview_played", "skipped", "disliked")
SHOW_FIELDS = ("id", "title", "author", "description", "category", "language", "host_gender")
EPISODE_FIELDS = ("guid", "title", "published", "description", "tags")
# Episode tags are the RAG service's: a tag outside its vocabulary is a typo here.
TAGS = Path(__file__).resolve().parent.parent / "crates" / "podwise-rag" / "data" / "tags"


class LibraryError(Exception):
    """A problem with the library's files, said with the file it is in."""


def shows(root):
    """Each show's podcast.toml, parsed, with its folder, in a stable order."""
    folders = sorted(p for p in (root / "shows").iterdir() if p.is_dir())
    if not folders:
        raise LibraryError(f"{root / 'shows'} holds no show folders")
    loaded = []
    for folder in folders:
        path = folder / "podcast.toml"
        try:
            with path.open("rb") as f:
                show = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise LibraryError(f"{path}: {e}") from e
        show["folder"] = folder
        show["path"] = path
        loaded.append(show)
    return loaded


def vocabulary(category):
    """The tag names of a category, from the RAG service's tag vocabulary."""
    path = TAGS / f"{category}.toml"
    try:
        with path.open("rb") as f:
            return {tag["name"] for tag in tomllib.load(f).get("tag", [])}
    except (OSError, tomllib.TOMLDecodeError):
        return set()


def problems_of(root):
    """Every inconsistency of the library, as sentences naming the file."""
    found = []
    guids = {}
    for show in shows(root):
        path = show["path"]
        for name in SHOW_FIELDS:
            if not str(show.get(name, "")).strip():
                found.append(f"{path}: the show has no {name}")
        if show.get("id") != show["folder"].name:
            found.append(f"{path}: the id {show.get('id')!r} is not the folder's name")
        if show.get("category") not in CATEGORIES:
            found.append(f"{path}: category {show.get('category')!r} is not one of {CATEGORIES}")
        episodes = show.get("episode", [])
        if not episodes:
            found.append(f"{path}: the show has no [[episode]]")
        for episode in episodes:
            guid = episode.get("guid", "")
            for name in EPISODE_FIELDS:
                if not episode.get(name):
                    found.append(f"{path}: episode {guid!r} has no {name}")
            if guid in guids:
                found.append(f"{path}: guid {guid!r} is also in {guids[guid]}")
            guids[guid] = path
            if not (show["folder"] / f"{guid}.txt").is_file():
                found.append(f"{path}: episode {guid!r} has no script {guid}.txt")
            known = vocabulary(show.get("category"))
            for tag in episode.get("tags", []):
                if tag not in known:
                    found.append(f"{path}: episode {guid!r} has tag {tag!r}, which is not in "
                                 f"{TAGS / (str(show.get('category')) + '.toml')}")
    listeners_path = root / "listeners.toml"
    names = set()
    for listener in load_listeners(root):
        name = listener.get("name", "")
        if not name or name in names:
            found.append(f"{listeners_path}: listener name {name!r} is missing or repeated")
        names.add(name)
        for kind in FEEDBACK_KINDS:
            for guid in listener.get(kind, []):
                if guid not in guids:
                    found.append(f"{listeners_path}: {name} {kind} {guid!r}, no such episode")
    return found


def load_listeners(root):
    path = root / "listeners.toml"
    try:
        with path.open("rb") as f:
            return tomllib.load(f).get("listener", [])
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise LibraryError(f"{path}: {e}") from e


def find_episode(root, guid):
    for show in shows(root):
        for episode in show.get("episode", []):
            if episode.get("guid") == guid:
                return show, episode
    raise LibraryError(f"no episode with guid {guid!r} in {root / 'shows'}")


def is_han(character):
    """Chinese characters and the full-width punctuation around them."""
    return ord(character) >= 0x2E80


def spoken_text(path):
    """A script's paragraphs, each one text: a wrapped line joins the next without a space
    between two Chinese characters (a space there would be read as a pause) and with one
    elsewhere."""
    paragraphs = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        text = ""
        for line in (line.strip() for line in block.splitlines()):
            if not line:
                continue
            if text and not (is_han(text[-1]) and is_han(line[0])):
                text += " "
            text += line
        if text:
            paragraphs.append(text)
    return "\n".join(paragraphs)


def pick_voice(voices, language, gender):
    """The voice for a show: its language's voice of the host's gender, else any voice of
    its language."""
    primary = language.split("-")[0].lower()
    same_language = [v for v in voices if v["language"].split("-")[0].lower() == primary]
    if not same_language:
        raise LibraryError(f"the TTS service has no voice for {language}")
    same_gender = [v for v in same_language if v.get("gender") == gender]
    return (same_gender or same_language)[0]["id"]


def write_upload(root, guid, out):
    show, episode = find_episode(root, guid)
    out.mkdir(parents=True, exist_ok=True)
    podcast = {name: show[name]
               for name in ("id", "title", "category", "language", "author", "description")}
    (out / "podcast.json").write_text(json.dumps(podcast, ensure_ascii=False), "utf-8")
    sidecar = {name: episode[name] for name in ("title", "published", "description", "tags")}
    (out / f"{guid}.json").write_text(json.dumps(sidecar, ensure_ascii=False), "utf-8")


def read_state(path):
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as e:
        raise LibraryError(f"{path}: {e}") from e


def write_state(path, state):
    """Replaces the file whole, readable by its owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.touch(mode=0o600)
    temporary.chmod(0o600)
    temporary.write_text(json.dumps(state, ensure_ascii=False, indent=2) + "\n", "utf-8")
    temporary.replace(path)


def state_command(command, args):
    path, name = args[0], args[1]
    state = read_state(path)
    listener = state.setdefault(name, {})
    if command == "state-get":
        print(listener.get(args[2], ""))
        return 0
    if command == "state-has":
        return 0 if args[2] in listener.get("feedback", []) else 1
    if command == "state-set":
        listener[args[2]] = args[3]
    else:
        listener.setdefault("feedback", []).append(args[2])
    write_state(path, state)
    return 0


def fix_wav_sizes(path):
    """A WAV streamed as it was made carries placeholder sizes; the RIFF and data chunk
    sizes are set from the file's length (the data chunk is the last one)."""
    with open(path, "r+b") as f:
        header = f.read(4096)
        if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            raise LibraryError(f"{path} is not a WAV file")
        at = header.find(b"data", 12)
        if at < 0:
            raise LibraryError(f"{path} has no data chunk in its header")
        size = f.seek(0, 2)
        f.seek(4)
        f.write((size - 8).to_bytes(4, "little"))
        f.seek(at + 4)
        f.write((size - at - 8).to_bytes(4, "little"))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[1], argv[2:]
    if command == "field":
        value = json.load(sys.stdin).get(args[0], args[1] if len(args) > 1 else "")
        print("" if value is None else value)
        return 0
    if command == "message":
        body = sys.stdin.read()
        try:
            print(json.loads(body)["message"])
        except (ValueError, KeyError, TypeError):
            print(" ".join(body.split())[:200] or "(no body)")
        return 0
    if command == "catalog-episodes":
        for episode in json.load(sys.stdin)["episodes"]:
            print(f"{episode['id']}\t{episode['transcript_status']}\t{episode['title']}")
        return 0
    if command == "latest-jobs":
        seen = set()
        # The list is newest first, so an episode's first job is its latest.
        for job in json.load(sys.stdin)["jobs"]:
            if job["episode_id"] not in seen:
                seen.add(job["episode_id"])
                print(f"{job['episode_id']}\t{job['state']}\t{job['id']}")
        return 0
    if command.startswith("state-"):
        return state_command(command, args)
    if command == "wav-sizes":
        fix_wav_sizes(args[0])
        return 0
    if command == "voice":
        print(pick_voice(json.load(sys.stdin)["voices"], args[0], args[1]))
        return 0
    root = Path(args[0])
    if command == "check":
        found = problems_of(root)
        for problem in found:
            print(problem, file=sys.stderr)
        return 1 if found else 0
    if command == "episodes":
        for show in shows(root):
            for episode in show["episode"]:
                fields = (show["id"], episode["guid"], show["language"], show["host_gender"],
                          episode["title"])
                print("\t".join(fields))
        return 0
    if command == "script":
        show, _ = find_episode(root, args[1])
        print(spoken_text(show["folder"] / f"{args[1]}.txt"))
        return 0
    if command == "upload":
        write_upload(root, args[1], Path(args[2]))
        return 0
    if command == "questions":
        text = (root / "questions.toml").read_text(encoding="utf-8")
        for entry in tomllib.loads(text).get("question", []):
            print(f"{entry['guid']}\t{entry['question']}")
        return 0
    if command == "listeners":
        for listener in load_listeners(root):
            preferences = {"categories": listener.get("categories", []),
                           "tags": listener.get("tags", [])}
            print(f"{listener['name']}\t{json.dumps(preferences, ensure_ascii=False)}")
        return 0
    if command == "feedback":
        for listener in load_listeners(root):
            if listener.get("name") == args[1]:
                for kind in FEEDBACK_KINDS:
                    for guid in listener.get(kind, []):
                        print(f"{kind}\t{guid}")
        return 0
    print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except LibraryError as e:
        print(e, file=sys.stderr)
        sys.exit(1)
