#!/usr/bin/env python3
"""Validate OpenLineage events (one JSON document per line) against the 2-0-2 schemas.

usage: openlineage_check.py SCHEMA_DIR EVENTS.jsonl

SCHEMA_DIR holds OpenLineage.json and facets/*.json.  Every $ref is resolved
from those files (no network).  Each event is validated against
OpenLineage.json; its run facets, job facets and dataset facets are also
validated against the facet schemas, and each facet's _schemaURL must point
into the file that defines it.  Formats (uuid, date-time, uri) are checked.
Prints one line per problem and "N events valid"; exits 1 on any problem.
Used by tests/integration/openlineage*.sh (not a test itself).
"""
import datetime
import glob
import json
import os
import re
import sys
import urllib.parse

import jsonschema

OL_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


def load_schemas(d):
    schemas = {}
    for path in [os.path.join(d, "OpenLineage.json")] + sorted(
        glob.glob(os.path.join(d, "facets", "*.json"))
    ):
        with open(path) as f:
            s = json.load(f)
        schemas[s["$id"]] = s
    return schemas


def format_checker():
    fc = jsonschema.FormatChecker()

    @fc.checks("uuid", raises=ValueError)
    def is_uuid(v):
        if not isinstance(v, str):
            return True
        if not re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", v):
            raise ValueError("not a UUID: %r" % v)
        return True

    @fc.checks("date-time", raises=ValueError)
    def is_date_time(v):
        if not isinstance(v, str):
            return True
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", v):
            raise ValueError("not an RFC 3339 date-time: %r" % v)
        datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
        return True

    @fc.checks("uri", raises=ValueError)
    def is_uri(v):
        if not isinstance(v, str):
            return True
        u = urllib.parse.urlsplit(v)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", u.scheme or "") or re.search(r"[\s<>\"{}|\\^`]", v):
            raise ValueError("not a URI: %r" % v)
        return True

    return fc


def make_validator(schema, schemas, fc):
    cls = jsonschema.Draft202012Validator
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
    except ImportError:  # jsonschema < 4.18 (Debian 12 has 4.10)
        resolver = jsonschema.RefResolver.from_schema(schema, store=dict(schemas))
        return cls(schema, resolver=resolver, format_checker=fc)
    registry = Registry().with_resources(
        (sid, Resource.from_contents(s, default_specification=DRAFT202012)) for sid, s in schemas.items()
    )
    return cls(schema, registry=registry, format_checker=fc)


def main():
    schema_dir, events_path = sys.argv[1], sys.argv[2]
    schemas = load_schemas(schema_dir)
    fc = format_checker()
    root = make_validator(schemas[OL_ID], schemas, fc)
    # The same, aimed at RunEvent: precise messages instead of "not valid under any of oneOf".
    run_event = make_validator({"$ref": OL_ID + "#/$defs/RunEvent"}, schemas, fc)
    # facet name -> (validator of a facets object, the file's $id, the $defs name)
    facet_files = {}
    for sid, s in schemas.items():
        if sid == OL_ID:
            continue
        for name, prop in s.get("properties", {}).items():
            defname = prop["$ref"].rsplit("/", 1)[1]
            facet_files[name] = (make_validator(s, schemas, fc), sid, defname)

    problems = []
    n = 0
    with open(events_path) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    for i, line in enumerate(lines, 1):
        try:
            ev = json.loads(line)
        except ValueError as e:
            problems.append("line %d: not JSON: %s" % (i, e))
            continue
        n += 1
        precise = list(run_event.iter_errors(ev))
        for err in precise:
            problems.append("line %d: %s at /%s" % (i, err.message[:300], "/".join(map(str, err.absolute_path))))
        if not precise and not root.is_valid(ev):
            problems.append("line %d: not valid against OpenLineage.json (oneOf)" % i)
        groups = [("run.facets", ev.get("run", {}).get("facets", {})), ("job.facets", ev.get("job", {}).get("facets", {}))]
        for kind in ("inputs", "outputs"):
            for j, ds in enumerate(ev.get(kind, [])):
                groups.append(("%s[%d].facets" % (kind, j), ds.get("facets", {})))
        for where, facets in groups:
            for name, facet in facets.items():
                if name not in facet_files:
                    continue  # a custom facet: the base facet rules already applied
                v, sid, defname = facet_files[name]
                for err in v.iter_errors({name: facet}):
                    problems.append("line %d: %s.%s: %s" % (i, where, name, err.message))
                want = sid + "#/$defs/" + defname
                if facet.get("_schemaURL") != want:
                    problems.append("line %d: %s.%s: _schemaURL %r, want %r" % (i, where, name, facet.get("_schemaURL"), want))
    for p in problems[:50]:
        print(p)
    if not n:
        print("no events in %s" % events_path)
        return 1
    print("%d events valid" % n if not problems else "%d problems in %d events" % (len(problems), n))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
