"""Every YAML file of a bundle reads the same under YAML 1.1 and YAML 1.2.

kubectl and the Go clients read YAML 1.1, where `yes`, `on`, `0755`, `1:20` or `1_000`
are not strings; the compiler's serializer thinks in YAML 1.2. Each file is loaded with
PyYAML's YAML 1.1 resolvers and with the YAML 1.2 core schema's resolvers (the same
parser, different implicit types), and the two trees must be equal value for value and
type for type. Names, namespaces, labels, annotations and ConfigMap data must be strings.

Usage: python yaml_types.py FILE...   (prints one line per problem; exit 1 if any)
"""

import re
import sys

import yaml


class Core12Loader(yaml.SafeLoader):
    """PyYAML with the YAML 1.2 core schema's implicit types instead of 1.1's."""


Core12Loader.yaml_implicit_resolvers = {}
for tag, pattern, first in [
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", list("~nN") + [""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
]:
    Core12Loader.add_implicit_resolver(tag, re.compile(pattern), first)


def _int12(loader, node):
    value = loader.construct_scalar(node)
    sign = -1 if value.startswith("-") else 1
    digits = value.lstrip("+-")
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    return sign * int(digits, 10)


Core12Loader.add_constructor("tag:yaml.org,2002:int", _int12)

STRING_MAPS = ("labels", "annotations", "matchLabels")


def differences(a, b, path):
    if type(a) is not type(b):
        yield f"{path}: YAML 1.1 reads {a!r} ({type(a).__name__}), YAML 1.2 {b!r} ({type(b).__name__})"
    elif isinstance(a, dict):
        if list(a) != list(b):
            yield f"{path}: keys differ: {list(a)} vs {list(b)}"
        for key in a:
            if key in b:
                yield from differences(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        if len(a) != len(b):
            yield f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            yield from differences(x, y, f"{path}[{i}]")
    elif a != b:
        yield f"{path}: YAML 1.1 reads {a!r}, YAML 1.2 {b!r}"


def must_be_strings(doc, path, kind):
    if isinstance(doc, dict):
        for key, value in doc.items():
            here = f"{path}.{key}"
            if not isinstance(key, str):
                yield f"{here}: key {key!r} is a {type(key).__name__}"
            if key in ("name", "namespace") and not isinstance(value, (str, dict, list)):
                yield f"{here}: {value!r} is a {type(value).__name__}, not a string"
            if key in STRING_MAPS or (key == "data" and kind == "ConfigMap"):
                for k, v in (value or {}).items():
                    if not isinstance(v, str):
                        yield f"{here}.{k}: {v!r} is a {type(v).__name__}, not a string"
            yield from must_be_strings(value, here, kind)
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from must_be_strings(item, f"{path}[{i}]", kind)


def main(files):
    problems = 0
    for name in files:
        with open(name, encoding="utf-8") as f:
            text = f.read()
        docs11 = list(yaml.load_all(text, Loader=yaml.SafeLoader))
        docs12 = list(yaml.load_all(text, Loader=Core12Loader))
        for i, (d11, d12) in enumerate(zip(docs11, docs12)):
            kind = d11.get("kind") if isinstance(d11, dict) else None
            for problem in [*differences(d11, d12, f"[{i}]"), *must_be_strings(d11, f"[{i}]", kind)]:
                print(f"{name}: {problem}")
                problems += 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
