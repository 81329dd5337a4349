"""Relation schemas: which relations the extractor looks for, how they are phrased, between which types.

A schema is a JSON file::

    {"name": "my-schema",
     "relations": [
       {"name": "place_of_birth",          # becomes the relation IRI REL[name]
        "pid": "P19",                      # optional external (Wikidata) property id
        "label": "place of birth",         # rdfs:label of the relation
        "subject": ["PERSON"],             # allowed subject types (see ENTITY_TYPES)
        "object": ["LOC"],                 # allowed object types; "DATE" makes the object a date literal
        "aliases": ["was born in", "native of"],      # phrasings that read subject ... object
        "inverse_aliases": ["birthplace of"],         # phrasings that read object ... subject
        "symmetric": false,                # optional: the relation holds both ways (spouse, sibling)
        "inverse_of": null}                # optional: name of a relation this one inverts; every fact
                                           # of that relation also yields this one, reversed
     ]}

Entity types are coarse: ``PERSON ORG LOC NORP WORK EVENT DATE MISC ROLE``; spaCy's NER labels map
onto them with :data:`SPACY_TO_TYPE`. ``ROLE`` is an occupation noun ("physicist") read from
"X was a physicist" patterns.

>>> schema = load_schema()
>>> schema["place_of_birth"].pid, schema["place_of_birth"].allows("PERSON", "LOC")
('P19', True)
>>> schema["place_of_birth"].allows("ORG", "LOC")
False
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kg.errors import KGQAError

#: the bundled schema
DEFAULT_SCHEMA = Path(__file__).parent / "schemas" / "default.json"

#: the coarse entity types a schema may use
ENTITY_TYPES = ("PERSON", "ORG", "LOC", "NORP", "WORK", "EVENT", "DATE", "MISC", "ROLE")

#: spaCy (OntoNotes) NER label -> schema entity type; labels not listed are not entities
SPACY_TO_TYPE = {
    "PERSON": "PERSON", "PER": "PERSON", "Peop": "PERSON",
    "ORG": "ORG", "Org": "ORG",
    "GPE": "LOC", "LOC": "LOC", "FAC": "LOC", "Loc": "LOC",
    "NORP": "NORP",
    "WORK_OF_ART": "WORK", "LAW": "WORK", "PRODUCT": "MISC",
    "EVENT": "EVENT",
    "LANGUAGE": "MISC", "MISC": "MISC", "Other": "MISC",
    "DATE": "DATE", "TIME": "DATE",
}

#: schema entity type -> local name of its class IRI (kg.namespaces.TYPE)
TYPE_CLASS = {
    "PERSON": "Person", "ORG": "Organization", "LOC": "Place", "NORP": "Group", "WORK": "Work",
    "EVENT": "Event", "MISC": "Thing", "ROLE": "Occupation",
}


class SchemaError(KGQAError):
    """A relation schema file that cannot be used."""

    code = "E-SCHEMA"


@dataclass(frozen=True)
class RelationType:
    """One relation of a schema (see the module docstring for the fields)."""

    name: str
    label: str
    subject: tuple[str, ...]
    object: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    inverse_aliases: tuple[str, ...] = ()
    pid: str | None = None
    symmetric: bool = False
    inverse_of: str | None = None

    def allows(self, subject_type: str, object_type: str) -> bool:
        """Whether a (subject type, object type) pair fits this relation."""
        return subject_type in self.subject and object_type in self.object

    @property
    def literal_object(self) -> bool:
        """True for relations whose object is a date literal."""
        return self.object == ("DATE",)


@dataclass
class RelationSchema:
    """An ordered set of :class:`RelationType` s, looked up by name."""

    name: str
    relations: list[RelationType] = field(default_factory=list)
    path: str | None = None

    def __getitem__(self, name: str) -> RelationType:
        for r in self.relations:
            if r.name == name:
                return r
        raise KeyError(name)

    def __contains__(self, name: str) -> bool:
        return any(r.name == name for r in self.relations)

    def __iter__(self):
        return iter(self.relations)

    def __len__(self) -> int:
        return len(self.relations)

    def by_pid(self, pid: str) -> RelationType | None:
        return next((r for r in self.relations if r.pid == pid), None)


def parse_schema(data: dict, *, path: str | None = None) -> RelationSchema:
    """Build a :class:`RelationSchema` from the parsed JSON; raises :class:`SchemaError` on bad content."""
    where = path or "schema"
    if not isinstance(data, dict) or not isinstance(data.get("relations"), list):
        raise SchemaError(f"{where}: expected an object with a 'relations' list (see nlp/schemas/default.json)")
    out, seen = [], set()
    for i, r in enumerate(data["relations"]):
        if not isinstance(r, dict) or not isinstance(r.get("name"), str) or not r["name"].strip():
            raise SchemaError(f"{where}: relation #{i + 1} needs a non-empty 'name'")
        name = r["name"].strip()
        if name in seen:
            raise SchemaError(f"{where}: relation {name!r} is defined twice")
        seen.add(name)
        types = {}
        for side in ("subject", "object"):
            value = r.get(side, [])
            value = [value] if isinstance(value, str) else list(value)
            bad = [t for t in value if t not in ENTITY_TYPES]
            if not value or bad:
                raise SchemaError(f"{where}: relation {name!r} needs '{side}' types from {', '.join(ENTITY_TYPES)}"
                                  + (f" (unknown: {', '.join(map(str, bad))})" if bad else ""))
            types[side] = tuple(value)
        label = str(r.get("label") or name.replace("_", " "))
        aliases = tuple(str(a) for a in r.get("aliases", []) if str(a).strip())
        inverse = tuple(str(a) for a in r.get("inverse_aliases", []) if str(a).strip())
        if not aliases and not inverse:
            aliases = (label,)
        out.append(RelationType(name, label, types["subject"], types["object"], aliases, inverse,
                                r.get("pid"), bool(r.get("symmetric", False)), r.get("inverse_of") or None))
    if not out:
        raise SchemaError(f"{where}: the schema has no relations")
    for r in out:
        if r.inverse_of is not None and r.inverse_of not in seen:
            raise SchemaError(f"{where}: relation {r.name!r} is the inverse of unknown relation {r.inverse_of!r}")
    return RelationSchema(str(data.get("name") or Path(where).stem), out, path)


def load_schema(path: str | Path | None = None) -> RelationSchema:
    """Read a schema file (default: the bundled ``nlp/schemas/default.json``)."""
    path = Path(path) if path else DEFAULT_SCHEMA
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(f"schema file {str(path)!r} not found; pass an existing JSON file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SchemaError(f"{path}: not valid JSON ({err}); see nlp/schemas/default.json for the format") from None
    return parse_schema(data, path=str(path))


__all__ = ["RelationType", "RelationSchema", "SchemaError", "load_schema", "parse_schema", "DEFAULT_SCHEMA",
           "ENTITY_TYPES", "SPACY_TO_TYPE", "TYPE_CLASS"]
