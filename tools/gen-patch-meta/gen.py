#!/usr/bin/env python3
"""Extract the patch metadata of the Kubernetes built-in kinds into crates/diff/data.

Reads the OpenAPI definitions of Kubernetes 1.35 shipped in the PyPI wheel
kubernetes-validate (a pure data package) and writes the part of them that strategic
merge patch and server-side apply need: the type graph of every kind that has a
group/version/kind, with the patch markers on it. See README.md beside this file.

Usage:
    python3 tools/gen-patch-meta/gen.py             # download the wheel, write the table
    python3 tools/gen-patch-meta/gen.py --check     # exit 1 if the committed table differs
    python3 tools/gen-patch-meta/gen.py --wheel W   # use a wheel already downloaded

Python 3.11 standard library only; pip is run as `python3 -m pip download`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "kubernetes-validate"
PACKAGE_VERSION = "1.37.0"
KUBERNETES_VERSION = "1.35.0"
MEMBER = (
    "kubernetes_validate/kubernetes-json-schema/"
    f"v{KUBERNETES_VERSION}-local/_definitions.json"
)
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "crates" / "diff" / "data" / "kubernetes-1.35.json"

REF_PREFIX = "#/$defs/"

# Schema keywords that carry nothing patching needs: dropped without a word.
IGNORED = {
    "description",
    "enum",
    "format",
    "required",
    "x-kubernetes-group-version-kind",
    "x-kubernetes-unions",
}
# The markers kept, under their names without the `x-kubernetes-` prefix.
MARKERS = {
    "x-kubernetes-patch-strategy": "patch-strategy",
    "x-kubernetes-patch-merge-key": "patch-merge-key",
    "x-kubernetes-list-type": "list-type",
    "x-kubernetes-list-map-keys": "list-map-keys",
    "x-kubernetes-map-type": "map-type",
}
STRUCTURE = {"type", "$ref", "properties", "items", "additionalProperties", "oneOf"}
SCALARS = {"string", "integer", "number", "boolean"}

LIST_TYPES = {"atomic", "set", "map"}
MAP_TYPES = {"atomic", "granular"}
LIST_STRATEGIES = {"merge", "replace", "merge,retainKeys"}
OBJECT_STRATEGIES = {"retainKeys", "replace"}


class SchemaError(Exception):
    """The definitions have a shape this generator does not know: fix the generator."""


def download_wheel(directory: Path) -> Path:
    """`pip download` the pinned wheel into `directory` and return its path."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(directory),
        f"{PACKAGE}=={PACKAGE_VERSION}",
    ]
    subprocess.run(command, check=True)
    wheels = sorted(directory.glob("kubernetes_validate-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"gen-patch-meta: expected one wheel in {directory}, found {wheels}")
    return wheels[0]


def read_definitions(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(MEMBER)


def type_of(schema: dict, where: str) -> str | None:
    """The JSON type of a schema, `null` removed (OpenAPI 3.1 nullable types)."""
    declared = schema.get("type")
    if declared is None:
        return None
    types = [declared] if isinstance(declared, str) else list(declared)
    types = [t for t in types if t != "null"]
    if len(types) != 1:
        raise SchemaError(f"{where}: type {declared!r}")
    return types[0]


def ref_name(ref: str, where: str) -> str:
    # Refs are local: `#/$defs/<name>` (the per-kind files use `_definitions.json#/...`).
    if not ref.startswith(REF_PREFIX):
        raise SchemaError(f"{where}: $ref {ref!r} is not local")
    return ref[len(REF_PREFIX) :]


def markers(schema: dict, where: str) -> dict:
    out = {}
    for key, value in schema.items():
        if key in MARKERS:
            out[MARKERS[key]] = value
        elif key not in IGNORED and key not in STRUCTURE:
            raise SchemaError(f"{where}: unknown keyword {key!r}")
    return out


def expect(found: dict, allowed: set, where: str, what: str) -> None:
    extra = sorted(set(found) - allowed)
    if extra:
        raise SchemaError(f"{where}: {what} carries {', '.join(extra)}")


def shape(schema: dict, where: str, refs: list) -> str | dict:
    """The patch-relevant shape of one schema; appends every definition it names to `refs`."""
    marks = markers(schema, where)
    if "$ref" in schema:
        expect(schema, {"$ref"} | IGNORED | set(MARKERS), where, "a $ref")
        expect(marks, {"patch-strategy", "map-type"}, where, "a $ref")
        if marks.get("patch-strategy", "retainKeys") not in OBJECT_STRATEGIES:
            raise SchemaError(f"{where}: patch strategy {marks['patch-strategy']!r}")
        name = ref_name(schema["$ref"], where)
        refs.append(name)
        return {"ref": name, **marks}

    kind = type_of(schema, where)
    if kind is None and "oneOf" in schema:
        # IntOrString and Quantity: a value that is one of several scalar types.
        if not all(type_of(alt, where) in SCALARS for alt in schema["oneOf"]):
            raise SchemaError(f"{where}: oneOf over non-scalars")
        kind = "scalar"
    if kind is None:
        # No type at all (apiextensions JSON, JSONSchemaPropsOr*): any JSON value.
        expect(schema, IGNORED, where, "an untyped schema")
        return "unknown"

    if kind in SCALARS or kind == "scalar":
        # A []byte field is a base64 string; its `list-type: atomic` says nothing more.
        if marks and not (marks == {"list-type": "atomic"} and schema.get("format") == "byte"):
            raise SchemaError(f"{where}: markers {marks} on a scalar")
        return "scalar"

    if kind == "array":
        if "items" not in schema:
            raise SchemaError(f"{where}: array without items")
        expect(marks, {"patch-strategy", "patch-merge-key", "list-type", "list-map-keys"}, where, "a list")
        if marks.get("list-type", "atomic") not in LIST_TYPES:
            raise SchemaError(f"{where}: list type {marks['list-type']!r}")
        if ("list-map-keys" in marks) != (marks.get("list-type") == "map"):
            raise SchemaError(f"{where}: list-map-keys and list-type map go together")
        if marks.get("patch-strategy", "merge") not in LIST_STRATEGIES:
            raise SchemaError(f"{where}: patch strategy {marks['patch-strategy']!r}")
        return {"items": shape(schema["items"], where + "[]", refs), **marks}

    if kind == "object":
        expect(marks, {"map-type"}, where, "an object")
        if marks.get("map-type", "atomic") not in MAP_TYPES:
            raise SchemaError(f"{where}: map type {marks['map-type']!r}")
        if "properties" in schema:
            if "additionalProperties" in schema:
                raise SchemaError(f"{where}: both properties and additionalProperties")
            fields = {
                name: shape(sub, f"{where}.{name}", refs)
                for name, sub in schema["properties"].items()
            }
            return {"fields": fields, **marks}
        if isinstance(schema.get("additionalProperties"), dict):
            values = shape(schema["additionalProperties"], where + "{}", refs)
            return {"values": values, **marks}
        # An object with neither: RawExtension, FieldsV1 and a few empty structs. The
        # document does not tell free-form JSON from an empty struct; both patch as JSON.
        return "unknown"

    raise SchemaError(f"{where}: type {kind!r}")


def extract(document: dict) -> dict:
    """The table: kinds (apiVersion + kind → definition) and the types they reach."""
    definitions = document["$defs"]
    kinds = {}
    pending = []
    for name in sorted(definitions):
        for gvk in definitions[name].get("x-kubernetes-group-version-kind", []):
            group, version = gvk["group"], gvk["version"]
            api_version = f"{group}/{version}" if group else version
            key = f"{api_version} {gvk['kind']}"
            if key in kinds:
                raise SchemaError(f"{key} is defined by both {kinds[key]} and {name}")
            kinds[key] = name
            pending.append(name)

    types = {}
    while pending:
        name = pending.pop()
        if name in types:
            continue
        if name not in definitions:
            raise SchemaError(f"a $ref names {name!r}, which is not defined")
        refs = []
        types[name] = shape(definitions[name], name, refs)
        pending.extend(refs)
    return {"kinds": kinds, "types": types}


def render(table: dict, source: dict) -> str:
    """Sorted, compact JSON with one kind or one type per line, so reviews diff by line."""

    def compact(value) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def block(mapping: dict) -> str:
        lines = [f"{compact(key)}:{compact(mapping[key])}" for key in sorted(mapping)]
        return "{\n" + ",\n".join(lines) + "\n}"

    return (
        "{"
        + f'"kinds":{block(table["kinds"])},\n'
        + f'"source":{compact(source)},\n'
        + f'"types":{block(table["types"])}'
        + "}\n"
    )


def generate(wheel: Path) -> str:
    raw = read_definitions(wheel)
    document = json.loads(raw)
    source = {
        "file": MEMBER,
        "package": f"{PACKAGE}=={PACKAGE_VERSION}",
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    text = render(extract(document), source)
    json.loads(text)  # what we write must be JSON
    return text


def cli(tool: str, description: str, output: Path, generate, summary) -> int:
    """The command line both generators share: write `output` from the wheel, or `--check` it.

    `generate(wheel)` returns the file's text; `summary(text)` says what it holds.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--wheel", type=Path, help="a downloaded kubernetes_validate wheel")
    parser.add_argument("--output", type=Path, default=output, help=f"default: {output}")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the output file differs from what would be written",
    )
    args = parser.parse_args()

    if args.wheel:
        text = generate(args.wheel)
    else:
        with tempfile.TemporaryDirectory(prefix=f"{tool}-") as tmp:
            text = generate(download_wheel(Path(tmp)))

    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"{tool}: {args.output} is stale; run {Path(sys.argv[0]).name}", file=sys.stderr)
            return 1
        print(f"{tool}: {args.output} is up to date")
        return 0

    args.output.parent.mkdir(parents=True, exist_ok=True)
    partial = args.output.with_suffix(".json.tmp")
    partial.write_text(text, encoding="utf-8", newline="\n")
    partial.replace(args.output)
    print(f"{tool}: wrote {args.output} ({len(text.encode())} bytes, {summary(text)})")
    return 0


def main() -> int:
    def summary(text: str) -> str:
        table = json.loads(text)
        return f"{len(table['kinds'])} kinds, {len(table['types'])} types"

    return cli("gen-patch-meta", __doc__.splitlines()[0], OUTPUT, generate, summary)

if __name__ == "__main__":
    try:
        sys.exit(main())
    except SchemaError as error:
        sys.exit(f"gen-patch-meta: unexpected schema shape at {error}")
