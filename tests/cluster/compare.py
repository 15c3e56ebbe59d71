"""Compares the objects of a bundle with the live objects of the API server.

    python3 compare.py equal EXPECTED LIVE          every field the bundle sets is live, with its value
    python3 compare.py absent EXPECTED LIVE         nothing of EXPECTED is live (a Namespace may be terminating)
    python3 compare.py left-behind OLD NEW LIVE     nothing of OLD that NEW lacks is live
    python3 compare.py dropped-only OLD NEW         NEW is OLD less some objects: prints the
                                                    names of those, exits 1 for any other change

EXPECTED, OLD and NEW are the bundle's objects as JSON (`kubectl create --dry-run=client
-o json -k DIR` prints one JSON object after another), LIVE what `kubectl get -f EXPECTED
--ignore-not-found -o json` printed: a List, one object, or nothing. Prints one line per problem; exits 1 when there is one.

"Equal" means: every field the bundle sets is there with the same value; the server may
add fields (defaults, status, managedFields, the ApplySet label). A list must have the same
length as the bundle's, item by item equal in that sense: a list the server extended, or
an item the bundle dropped that is still live, is a difference.
"""

import json
import sys


def items(path):
    """The objects of a file of JSON values (kubectl prints one per object, or a List)."""
    text = open(path).read()
    decoder = json.JSONDecoder()
    objects = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            return objects
        data, index = decoder.raw_decode(text, index)
        if data.get("kind", "").endswith("List") and "items" in data:
            objects += data["items"]
        else:
            objects.append(data)


def identity(obj):
    meta = obj.get("metadata", {})
    group = obj.get("apiVersion", "").rpartition("/")[0]
    return (group, obj.get("kind"), meta.get("namespace", ""), meta.get("name"))


def label(key):
    group, kind, namespace, name = key
    kind = f"{kind}.{group}" if group else kind
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def differences(want, have, path):
    if isinstance(want, dict):
        if not isinstance(have, dict):
            yield f"{path}: want an object, live is {json.dumps(have)}"
            return
        for key, value in want.items():
            if key not in have:
                yield f"{path}.{key}: missing (want {json.dumps(value)})"
            else:
                yield from differences(value, have[key], f"{path}.{key}")
    elif isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            yield f"{path}: want {json.dumps(want)}, live is {json.dumps(have)}"
            return
        for index, (w, h) in enumerate(zip(want, have)):
            yield from differences(w, h, f"{path}[{index}]")
    elif want != have:
        yield f"{path}: want {json.dumps(want)}, live is {json.dumps(have)}"


def equal(expected, live):
    by_key = {identity(obj): obj for obj in live}
    problems = []
    for obj in expected:
        key = identity(obj)
        if key not in by_key:
            problems.append(f"{label(key)}: not found")
            continue
        problems += [f"{label(key)}: {d}" for d in differences(obj, by_key[key], "")]
    return problems


def absent(expected, live):
    wanted = {identity(obj) for obj in expected}
    problems = []
    for obj in live:
        key = identity(obj)
        if key not in wanted:
            continue
        # Without a namespace controller (none runs here) a deleted Namespace stays
        # Terminating; deletion has been accepted when it has a deletionTimestamp.
        if obj.get("kind") == "Namespace" and obj["metadata"].get("deletionTimestamp"):
            continue
        problems.append(f"{label(key)}: still there")
    return problems


def left_behind(old, new, live):
    kept = {identity(obj) for obj in new}
    dropped = {identity(obj) for obj in old} - kept
    return [f"{label(identity(obj))}: left behind" for obj in live if identity(obj) in dropped]


def dropped_only(old, new):
    """The names of the objects NEW drops, or None when NEW also adds or changes one."""
    by_key = {identity(obj): obj for obj in old}
    if any(by_key.get(identity(obj)) != obj for obj in new):
        return None
    kept = {identity(obj) for obj in new}
    return [key[3] for key in by_key if key not in kept] or None


def main():
    command, *paths = sys.argv[1:]
    if command == "equal":
        problems = equal(items(paths[0]), items(paths[1]))
    elif command == "absent":
        problems = absent(items(paths[0]), items(paths[1]))
    elif command == "dropped-only":
        dropped = dropped_only(items(paths[0]), items(paths[1]))
        print("\n".join(dropped or []))
        return 0 if dropped else 1
    elif command == "left-behind":
        problems = left_behind(items(paths[0]), items(paths[1]), items(paths[2]))
    else:
        sys.exit(f"unknown command {command!r}")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
