#!/usr/bin/env python3
"""Write the Kubernetes 1.35 OpenAPI v3 component schemas into crates/testcluster/data.

Reads the same definitions as tools/gen-patch-meta (the PyPI wheel kubernetes-validate, a
pure data package) and converts them from their JSON Schema form back to the component
schemas kube-apiserver publishes at /openapi/v3. See README.md beside this file.

Usage:
    python3 tools/gen-openapi/gen.py             # download the wheel, write the schemas
    python3 tools/gen-openapi/gen.py --check     # exit 1 if the committed file differs
    python3 tools/gen-openapi/gen.py --wheel W   # use a wheel already downloaded

Python 3.11 standard library only; pip is run as `python3 -m pip download`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "crates" / "testcluster" / "data" / "openapi-1.35.json"


def _load_patch_meta():
    """tools/gen-patch-meta/gen.py, for its pinned wheel and its download and read helpers.

    Loaded by path under its own module name: both scripts are called gen.py.
    """
    path = ROOT / "tools" / "gen-patch-meta" / "gen.py"
    spec = importlib.util.spec_from_file_location("gen_patch_meta", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


patch_meta = _load_patch_meta()
PACKAGE = patch_meta.PACKAGE
PACKAGE_VERSION = patch_meta.PACKAGE_VERSION
MEMBER = patch_meta.MEMBER

SOURCE_REF = "#/$defs/"
OUTPUT_REF = "#/components/schemas/"

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# The two definitions the source writes as a `oneOf` of nullable scalars (the scalar types
# it lists), and the schema kube-apiserver publishes for each in its v3 documents (the
# oneOf its Go types declare through OpenAPIV3OneOfTypes); a description is added when the
# source has one.
SCALAR_UNIONS = {
    INT_OR_STRING: (
        {"string", "integer"},
        {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
    ),
    QUANTITY: (
        {"string", "number"},
        {"oneOf": [{"type": "string"}, {"type": "number"}]},
    ),
}

TYPES = {"string", "integer", "number", "boolean", "array", "object"}
LIST_TYPES = {"atomic", "set", "map"}
MAP_TYPES = {"atomic", "granular"}
# Keywords copied as they are, with the check their value gets.
COPIED = {
    "description": lambda v: isinstance(v, str),
    "format": lambda v: isinstance(v, str),
    "default": lambda v: True,
    "x-kubernetes-list-type": lambda v: v in LIST_TYPES,
    "x-kubernetes-list-map-keys": lambda v: _strings(v) and len(v) > 0,
    "x-kubernetes-map-type": lambda v: v in MAP_TYPES,
    "x-kubernetes-patch-strategy": lambda v: isinstance(v, str) and v != "",
    "x-kubernetes-patch-merge-key": lambda v: isinstance(v, str) and v != "",
}
# Keywords a `$ref` may carry beside it (written as allOf + siblings in the output).
REF_SIBLINGS = {
    "description",
    "default",
    "x-kubernetes-patch-strategy",
    "x-kubernetes-map-type",
}
# Keywords only a definition itself (not a property) may carry.
TOP_LEVEL_ONLY = {"x-kubernetes-group-version-kind", "x-kubernetes-unions"}


class SchemaError(Exception):
    """The definitions have a shape this generator does not know: fix the generator."""


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def scalar_type(declared, where: str) -> str:
    """`T` or `["T", "null"]` → `T` (kube-apiserver does not mark built-in fields nullable)."""
    if isinstance(declared, str):
        types = [declared]
    elif isinstance(declared, list) and all(isinstance(t, str) for t in declared):
        types = [t for t in declared if t != "null"]
        if len(declared) != len(types) + 1:
            raise SchemaError(f"{where}: type {declared!r}")
    else:
        raise SchemaError(f"{where}: type {declared!r}")
    if len(types) != 1 or types[0] not in TYPES:
        raise SchemaError(f"{where}: type {declared!r}")
    return types[0]


def ref_target(ref, definitions: dict, where: str) -> str:
    if not isinstance(ref, str) or not ref.startswith(SOURCE_REF):
        raise SchemaError(f"{where}: $ref {ref!r} is not of the form {SOURCE_REF}<name>")
    name = ref[len(SOURCE_REF) :]
    if name not in definitions:
        raise SchemaError(f"{where}: $ref names {name!r}, which is not defined")
    return name


def kind_enums(name: str, schema: dict) -> dict:
    """The enums kubernetes-validate adds to a kind's apiVersion and kind: property → values."""
    gvks = schema.get("x-kubernetes-group-version-kind")
    if not gvks:
        return {}
    api_versions, kinds = [], []
    for gvk in gvks:
        if not (isinstance(gvk, dict) and set(gvk) == {"group", "kind", "version"}):
            raise SchemaError(f"{name}: x-kubernetes-group-version-kind entry {gvk!r}")
        group, version = gvk["group"], gvk["version"]
        api_version = f"{group}/{version}" if group else version
        if api_version not in api_versions:
            api_versions.append(api_version)
        if gvk["kind"] not in kinds:
            kinds.append(gvk["kind"])
    return {"apiVersion": api_versions, "kind": kinds}


def convert(schema, definitions: dict, where: str, top: bool = False, added=None) -> dict:
    """One schema of the source in kube-apiserver's v3 form."""
    if not isinstance(schema, dict):
        raise SchemaError(f"{where}: a schema that is not an object: {schema!r}")
    if "oneOf" in schema:
        raise SchemaError(f"{where}: oneOf outside IntOrString and Quantity")
    unknown = sorted(
        set(schema)
        - set(COPIED)
        - TOP_LEVEL_ONLY
        - {"$ref", "type", "properties", "additionalProperties", "items", "required", "enum"}
    )
    if unknown:
        raise SchemaError(f"{where}: unknown keyword {', '.join(map(repr, unknown))}")
    if not top:
        misplaced = sorted(TOP_LEVEL_ONLY & set(schema))
        if misplaced:
            raise SchemaError(f"{where}: {', '.join(misplaced)} on a property")

    out = {}
    for key, check in COPIED.items():
        if key in schema:
            if not check(schema[key]):
                raise SchemaError(f"{where}: {key} {schema[key]!r}")
            out[key] = schema[key]

    if "$ref" in schema:
        extra = sorted(set(schema) - {"$ref"} - REF_SIBLINGS)
        if extra:
            raise SchemaError(f"{where}: a $ref carries {', '.join(extra)}")
        target = {"$ref": OUTPUT_REF + ref_target(schema["$ref"], definitions, where)}
        # v3 documents cannot put keywords beside a $ref: kube-apiserver wraps it in allOf.
        return {"allOf": [target], **out} if out else target

    if "type" not in schema:
        # No type at all: apiextensions JSON and JSONSchemaPropsOr*, any JSON value.
        extra = sorted(set(schema) - {"description"})
        if extra:
            raise SchemaError(f"{where}: an untyped schema carries {', '.join(extra)}")
        return out
    kind = scalar_type(schema["type"], where)
    out["type"] = kind

    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list) or not values:
            raise SchemaError(f"{where}: enum {values!r}")
        if added is None or values != added:
            out["enum"] = values

    if kind == "array":
        if "items" not in schema:
            raise SchemaError(f"{where}: an array without items")
        out["items"] = convert(schema["items"], definitions, where + "[]")
    elif "items" in schema:
        raise SchemaError(f"{where}: items on a {kind}")

    if kind == "object":
        if "properties" in schema and "additionalProperties" in schema:
            raise SchemaError(f"{where}: both properties and additionalProperties")
        if "properties" in schema:
            properties = schema["properties"]
            if not isinstance(properties, dict):
                raise SchemaError(f"{where}: properties {properties!r}")
            enums = kind_enums(where, schema) if top else {}
            out["properties"] = {
                field: convert(
                    sub, definitions, f"{where}.{field}", added=enums.get(field)
                )
                for field, sub in properties.items()
            }
        if "additionalProperties" in schema:
            values = schema["additionalProperties"]
            if not isinstance(values, dict):
                raise SchemaError(f"{where}: additionalProperties {values!r}")
            out["additionalProperties"] = convert(values, definitions, where + "{}")
    else:
        for key in ("properties", "additionalProperties"):
            if key in schema:
                raise SchemaError(f"{where}: {key} on a {kind}")

    if "required" in schema:
        required = schema["required"]
        fields = schema.get("properties", {})
        if not _strings(required) or not required or any(r not in fields for r in required):
            raise SchemaError(f"{where}: required {required!r} (properties: {sorted(fields)})")
        out["required"] = required

    if top:
        if "x-kubernetes-group-version-kind" in schema:
            kind_enums(where, schema)  # checks the entries
            out["x-kubernetes-group-version-kind"] = schema["x-kubernetes-group-version-kind"]
        if "x-kubernetes-unions" in schema:
            unions = schema["x-kubernetes-unions"]
            for union in unions if isinstance(unions, list) else [unions]:
                if not (
                    isinstance(union, dict)
                    and set(union) == {"discriminator", "fields-to-discriminateBy"}
                    and union["discriminator"] in schema.get("properties", {})
                    and isinstance(union["fields-to-discriminateBy"], dict)
                    and set(union["fields-to-discriminateBy"]) <= set(schema.get("properties", {}))
                ):
                    raise SchemaError(f"{where}: x-kubernetes-unions {unions!r}")
            out["x-kubernetes-unions"] = unions
    return out


def scalar_union(name: str, schema: dict) -> dict:
    """IntOrString or Quantity: checked against the source's shape, written as kube does."""
    types, published = SCALAR_UNIONS[name]
    extra = sorted(set(schema) - {"oneOf", "description"})
    alternatives = schema.get("oneOf")
    if extra or not isinstance(alternatives, list):
        raise SchemaError(f"{name}: expected a oneOf of {sorted(types)}, found {schema!r}")
    found = set()
    for i, alternative in enumerate(alternatives):
        if not (isinstance(alternative, dict) and set(alternative) == {"type"}):
            raise SchemaError(f"{name}|{i}: oneOf alternative {alternative!r}")
        found.add(scalar_type(alternative["type"], f"{name}|{i}"))
    if found != types or len(alternatives) != len(types):
        raise SchemaError(f"{name}: oneOf over {alternatives!r}, expected {sorted(types)}")
    out = json.loads(json.dumps(published))
    if "description" in schema:
        out["description"] = schema["description"]
    return out


def convert_all(document: dict) -> dict:
    definitions = document.get("$defs")
    if not isinstance(definitions, dict) or not definitions:
        raise SchemaError("$defs: missing")
    schemas = {}
    for name in sorted(definitions):
        schema = definitions[name]
        if name in SCALAR_UNIONS:
            schemas[name] = scalar_union(name, schema)
        else:
            schemas[name] = convert(schema, definitions, name, top=True)
    for name in SCALAR_UNIONS:
        if name not in schemas:
            raise SchemaError(f"{name}: not defined")
    check_refs(schemas)
    return schemas


def check_refs(schemas: dict) -> None:
    """Every `$ref` in the output names a schema of the output.

    Walks the schema keywords only: property names are data (JSONSchemaProps has a property
    called `$ref`).
    """

    def walk(node: dict, where: str) -> None:
        if "$ref" in node:
            ref = node["$ref"]
            if not (isinstance(ref, str) and ref.startswith(OUTPUT_REF)):
                raise SchemaError(f"{where}: $ref {ref!r} in the output")
            if ref[len(OUTPUT_REF) :] not in schemas:
                raise SchemaError(f"{where}: $ref {ref!r} names no schema of the output")
        for key in ("allOf", "oneOf"):
            for i, sub in enumerate(node.get(key, [])):
                walk(sub, f"{where}.{key}[{i}]")
        for field, sub in node.get("properties", {}).items():
            walk(sub, f"{where}.{field}")
        if "items" in node:
            walk(node["items"], where + "[]")
        if "additionalProperties" in node:
            walk(node["additionalProperties"], where + "{}")

    for name, schema in schemas.items():
        walk(schema, name)


def render(schemas: dict, source: dict) -> str:
    """Sorted, compact JSON with one schema per line, so reviews diff by definition."""

    def compact(value) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    lines = [f"{compact(name)}:{compact(schemas[name])}" for name in sorted(schemas)]
    return '{"source":' + compact(source) + ',\n"schemas":{\n' + ",\n".join(lines) + "\n}}\n"


def generate(wheel: Path) -> tuple[str, int]:
    raw = patch_meta.read_definitions(wheel)
    document = json.loads(raw)
    source = {
        "file": MEMBER,
        "package": f"{PACKAGE}=={PACKAGE_VERSION}",
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    schemas = convert_all(document)
    text = render(schemas, source)
    if json.loads(text)["schemas"] != schemas:  # what we write must be JSON, and these schemas
        raise SchemaError("the rendered file does not read back as the schemas")
    return text, len(schemas)


def main() -> int:
    def summary(text: str) -> str:
        return f"{len(json.loads(text)['schemas'])} schemas"

    return patch_meta.cli(
        "gen-openapi",
        __doc__.splitlines()[0],
        OUTPUT,
        lambda wheel: generate(wheel)[0],
        summary,
    )

if __name__ == "__main__":
    try:
        sys.exit(main())
    except SchemaError as error:
        sys.exit(f"gen-openapi: unexpected schema shape at {error}")
