#!/usr/bin/env python3
"""Validate recorded JSON-RPC traffic against Schemas/<service>.openrpc.json.

Usage:
  validate_traffic.py TRAFFIC.jsonl [...]   check every line of every file
  validate_traffic.py --self-test           prove the checks catch what they must

Each traffic line is {"service": "vault"|"ingest"|"router"|"audit", "request": <request or batch>,
"response": <response, batch answer, or null>}. For each request the method must be described
(else the answer must be -32601), its by-name params must match the params ContentDescriptors
(required flags, no unknown params, the method's x-params-schema), a result must match the
result schema (rpc.discover: equal the shipped document), and an error must be a JSON-RPC error
whose code is documented, whose data.name is that code's name and which the method may return
(its `errors` or the document's `x-common-errors`). Params that break the schema are fine only if
the daemon answered with an error: a daemon that accepts them is at fault.

One line per failure (file:line, service, method, JSON pointer into the traffic line, message).
Messages never contain instance values: params may be secrets. Then `schema: N passed, M failed`
(N and M count traffic lines); exit 1 when M > 0 or when no line was read.
Needs only the `jsonschema` package.
"""
import copy
import datetime
import io
import json
import os
import re
import sys
import tempfile
from contextlib import redirect_stdout

try:
    import jsonschema
    from jsonschema.exceptions import best_match
except ImportError:
    print("validate_traffic: needs Python jsonschema (pip install jsonschema)")
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.normpath(os.path.join(HERE, "..", "..", "Schemas"))
SERVICES = ("vault", "ingest", "router", "audit")
MAX_ERRORS_PER_MESSAGE = 20

# ----------------------------------------------------------------------------- formats
# Our own checks, so the result does not depend on which optional jsonschema extras are installed.
_DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$")


def _is_date_time(value):
    if not isinstance(value, str):
        return True
    m = _DATE_TIME.match(value)
    if not m:
        return False
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    try:
        datetime.date(y, mo, d)
    except ValueError:
        return False
    if h > 23 or mi > 59 or s > 60:
        return False
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


def _is_uri(value):
    return not isinstance(value, str) or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$", value) is not None


FORMATS = jsonschema.FormatChecker()
FORMATS.checks("date-time")(_is_date_time)
FORMATS.checks("uri")(_is_uri)


def make_validator(schema, root=None):
    """A draft-07 validator; `$ref`s like #/components/... resolve against `root` (the OpenRPC document)."""
    if root is not None:
        schema = {"components": root.get("components", {}), "allOf": [schema]}
    return jsonschema.Draft7Validator(schema, format_checker=FORMATS)


# ----------------------------------------------------------------------------- messages without values
def _pointer(parts):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _json_type(x):
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, int):
        return "integer"
    if isinstance(x, float):
        return "number"
    if isinstance(x, str):
        return "string"
    if x is None:
        return "null"
    return "array" if isinstance(x, list) else "object"


def _short(value, limit=120):
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "..."


def describe(err):
    """(pointer parts, message) for a jsonschema error, naming schema facts but never the instance's value."""
    if err.validator in ("oneOf", "anyOf") and err.context:
        rule = err.schema.get("description") if isinstance(err.schema, dict) else None
        if rule:
            # A described rule, "A implies B" written as anyOf [not A, B]: explain with B's failure.
            last = len(err.validator_value) - 1
            tail = [c for c in err.context if c.relative_schema_path and c.relative_schema_path[0] == last]
            parts, msg = describe(best_match(tail or err.context))
            return parts, "breaks the rule \"" + rule.rstrip(".") + "\": " + msg
        parts, msg = describe(best_match(err.context))
        return parts, msg + " (no alternative of " + err.validator + " matched)"
    v, vv, inst = err.validator, err.validator_value, err.instance
    parts = list(err.absolute_path)
    if "propertyNames" in err.relative_schema_path or "propertyNames" in err.absolute_schema_path:
        return parts, "a property name breaks the propertyNames rule (" + v + " " + _short(vv) + ")"
    if v == "type":
        return parts, "expected " + (" or ".join(vv) if isinstance(vv, list) else vv) + ", got " + _json_type(inst)
    if v == "required":
        missing = [k for k in vv if isinstance(inst, dict) and k not in inst]
        return parts, "missing required " + ", ".join(repr(k) for k in missing)
    if v == "additionalProperties" and vv is False and isinstance(inst, dict):
        known = err.schema.get("properties", {})
        patterns = err.schema.get("patternProperties", {})
        extra = sorted(k for k in inst if k not in known and not any(re.search(p, k) for p in patterns))
        return parts, "unexpected propert" + ("y " if len(extra) == 1 else "ies ") + ", ".join(repr(k) for k in extra)
    if v == "enum":
        return parts, "not one of " + _short(vv, 400)
    if v == "const":
        return parts, "must be " + _short(vv)
    if v == "pattern":
        return parts, "does not match pattern " + vv
    if v == "format":
        return parts, "not a valid " + vv
    if v == "not":
        why = vv.get("description") if isinstance(vv, dict) else None
        return parts, "forbidden: " + (why or "matches a schema it must not match " + _short(vv))
    words = {
        "minLength": "shorter than %s characters", "maxLength": "longer than %s characters",
        "minimum": "less than the minimum %s", "maximum": "more than the maximum %s",
        "exclusiveMinimum": "not more than %s", "exclusiveMaximum": "not less than %s",
        "minItems": "fewer than %s items", "maxItems": "more than %s items",
        "minProperties": "fewer than %s properties", "maxProperties": "more than %s properties",
        "uniqueItems": "items are not unique%s", "multipleOf": "not a multiple of %s",
    }
    if v in words:
        msg = words[v] % ("" if v == "uniqueItems" else vv)
        if v == "minProperties" and err.schema.get("description"):
            msg += " (" + err.schema["description"] + ")"
        return parts, msg
    return parts, "breaks the schema's " + v + " rule"


# ----------------------------------------------------------------------------- the schemas
class Service:
    def __init__(self, name, doc):
        self.name = name
        self.doc = doc
        self.methods = {m["name"]: m for m in doc.get("methods", []) if isinstance(m, dict) and "name" in m}
        self.code_names = {}
        for key, e in doc.get("components", {}).get("errors", {}).items():
            self.code_names[e["code"]] = e.get("data", {}).get("name", key)
        self.name_codes = {n: c for c, n in self.code_names.items()}
        self.common_codes = {self.name_codes[n] for n in doc.get("x-common-errors", []) if n in self.name_codes}
        self._params = {}
        self._results = {}

    def params_validator(self, method):
        if method not in self._params:
            m = self.methods[method]
            schema = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
            for p in m.get("params", []):
                schema["properties"][p["name"]] = p.get("schema", {})
                if p.get("required"):
                    schema["required"].append(p["name"])
            if "x-params-schema" in m:
                schema["allOf"] = [m["x-params-schema"]]
            self._params[method] = make_validator(schema, self.doc)
        return self._params[method]

    def result_validator(self, method):
        if method not in self._results:
            result = self.methods[method].get("result") or {}
            self._results[method] = make_validator(result.get("schema", {}), self.doc)
        return self._results[method]

    def allowed_codes(self, method):
        codes = set(self.common_codes)
        for e in self.methods[method].get("errors", []):
            if isinstance(e, dict) and "code" in e:
                codes.add(e["code"])
        return codes


def load_services(directory=SCHEMAS):
    services = {}
    for name in SERVICES:
        with open(os.path.join(directory, name + ".openrpc.json")) as f:
            services[name] = Service(name, json.load(f))
    return services


# ----------------------------------------------------------------------------- one traffic line
def _is_id(x):
    return x is None or isinstance(x, str) or (isinstance(x, (int, float)) and not isinstance(x, bool))


def check_error_object(svc, method, err, at, out):
    """Shape of a JSON-RPC error object; returns its code (or None when unusable)."""
    if not isinstance(err, dict):
        out.append((at, "error is not an object"))
        return None
    extra = sorted(set(err) - {"code", "message", "data"})
    if extra:
        out.append((at, "unexpected error member " + ", ".join(repr(k) for k in extra)))
    code = err.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        out.append((at + "/code", "code is not an integer"))
        return None
    if not isinstance(err.get("message"), str):
        out.append((at + "/message", "message is not a string"))
    name = svc.code_names.get(code)
    if name is None:
        out.append((at + "/code", "error code %d is not in components.errors" % code))
        return code
    data = err.get("data")
    if not isinstance(data, dict):
        out.append((at + "/data", "data must be an object with name %r" % name))
        return code
    if data.get("name") != name:
        out.append((at + "/data/name", "must be %r for code %d" % (name, code)))
    domain = -32099 <= code <= -32000
    if "detail" in data or domain:
        if not isinstance(data.get("detail"), str):
            out.append((at + "/data/detail", "detail must be a string" + (" (required for domain errors)" if domain else "")))
    extra = sorted(set(data) - {"name", "detail"})
    if extra:
        out.append((at + "/data", "unexpected data member " + ", ".join(repr(k) for k in extra)))
    if method is not None and code != -32601 and code not in svc.allowed_codes(method):
        out.append((at + "/code", "%s (%d) is not among the errors %s documents" % (name, code, method)))
    return code


def check_exchange(svc, req, resp, at_req, at_resp, out):
    """One request and its response (or None). Appends (pointer, message) to out; returns the method name."""
    if not isinstance(req, dict):
        # Not a request object at all (a raw line, a number): only an error answer is right.
        if resp is None or not isinstance(resp, dict) or "error" not in resp:
            out.append((at_req, "not a request object, and not answered with an error"))
        else:
            code = check_error_object(svc, None, resp["error"], at_resp + "/error", out)
            if code not in (-32700, -32600):
                out.append((at_resp + "/error/code", "expected ParseError or InvalidRequest"))
        return None
    method = req.get("method")
    envelope_ok = (req.get("jsonrpc") == "2.0" and isinstance(method, str) and _is_id(req.get("id", None))
                   and ("params" not in req or isinstance(req["params"], (dict, list)))
                   and not set(req) - {"jsonrpc", "method", "params", "id"})
    is_notification = "id" not in req

    # Response envelope.
    if resp is not None and envelope_ok and is_notification:
        out.append((at_resp, "a notification (no id) must not be answered"))
    if resp is not None:
        if not isinstance(resp, dict):
            out.append((at_resp, "response is not an object"))
            return method if isinstance(method, str) else None
        if resp.get("jsonrpc") != "2.0":
            out.append((at_resp + "/jsonrpc", 'must be "2.0"'))
        if ("result" in resp) == ("error" in resp):
            out.append((at_resp, "must have exactly one of result and error"))
        extra = sorted(set(resp) - {"jsonrpc", "id", "result", "error"})
        if extra:
            out.append((at_resp, "unexpected member " + ", ".join(repr(k) for k in extra)))
        if "id" not in resp:
            out.append((at_resp + "/id", "missing id"))
        elif envelope_ok and resp["id"] != req.get("id"):
            out.append((at_resp + "/id", "does not echo the request id"))

    if not envelope_ok:
        if resp is None and is_notification:
            out.append((at_req, "invalid request (no answer recorded)"))
        elif resp is None or "error" not in resp:
            out.append((at_req, "invalid JSON-RPC 2.0 request, and not answered with an error"))
        else:
            code = check_error_object(svc, None, resp["error"], at_resp + "/error", out)
            if code != -32600:
                out.append((at_resp + "/error/code", "an invalid request must get InvalidRequest (-32600)"))
        return method if isinstance(method, str) else None

    if method not in svc.methods:
        if resp is not None and isinstance(resp.get("error"), dict) and resp["error"].get("code") == -32601:
            check_error_object(svc, None, resp["error"], at_resp + "/error", out)
        elif resp is None and is_notification:
            pass  # JSON-RPC forbids answering a notification, so no -32601 can show; the daemon ignored it
        else:
            out.append((at_req + "/method", "method is not described in Schemas/%s.openrpc.json" % svc.name))
        return method

    # Params.
    params = req.get("params", {})
    param_problems = []
    if isinstance(params, list):
        param_problems.append((at_req + "/params", "params must be by name (an object)"))
    else:
        errors = sorted(svc.params_validator(method).iter_errors(params), key=lambda e: _pointer(e.absolute_path))
        for e in errors[:MAX_ERRORS_PER_MESSAGE]:
            parts, msg = describe(e)
            param_problems.append((at_req + "/params" + _pointer(parts), msg))
        if len(errors) > MAX_ERRORS_PER_MESSAGE:
            param_problems.append((at_req + "/params", "%d more problems" % (len(errors) - MAX_ERRORS_PER_MESSAGE)))

    if resp is None:
        out.extend(param_problems)
        return method
    if "error" in resp:
        code = check_error_object(svc, method, resp["error"], at_resp + "/error", out)
        if code == -32601:
            out.append((at_resp + "/error/code", "MethodNotFound for a method the document describes"))
        # Params the schema rejects and the daemon refused: the right outcome.
        return method
    if "result" in resp:
        if param_problems:
            out.extend(param_problems)
            out.append((at_resp + "/result", "the daemon accepted params its schema rejects"))
        result = resp["result"]
        if method == "rpc.discover":
            if result != svc.doc:
                out.append((at_resp + "/result", "differs from Schemas/%s.openrpc.json" % svc.name))
        else:
            errors = sorted(svc.result_validator(method).iter_errors(result), key=lambda e: _pointer(e.absolute_path))
            for e in errors[:MAX_ERRORS_PER_MESSAGE]:
                parts, msg = describe(e)
                out.append((at_resp + "/result" + _pointer(parts), msg))
            if len(errors) > MAX_ERRORS_PER_MESSAGE:
                out.append((at_resp + "/result", "%d more problems" % (len(errors) - MAX_ERRORS_PER_MESSAGE)))
    return method


def check_line(services, entry):
    """All failures of one traffic entry, as (service, method, pointer, message)."""
    failures = []
    if not isinstance(entry, dict):
        return [("-", "-", "", "traffic line is not a JSON object")]
    service = entry.get("service")
    if service not in services:
        return [("-", "-", "/service", "unknown service (expected one of %s)" % ", ".join(SERVICES))]
    if "request" not in entry:
        return [(service, "-", "/request", "missing request")]
    svc = services[service]
    req, resp = entry["request"], entry.get("response")

    def run(r, s, at_req, at_resp):
        out = []
        method = check_exchange(svc, r, s, at_req, at_resp, out)
        name = method if isinstance(method, str) else "-"
        failures.extend((service, name, p, m) for p, m in out)

    if isinstance(req, list):
        if not req:  # empty batch: one InvalidRequest error
            run(None, resp, "/request", "/response")
            return failures
        if resp is not None and not isinstance(resp, list):
            if isinstance(resp, dict) and "error" in resp:  # the whole batch refused (e.g. TooLarge)
                out = []
                check_error_object(svc, None, resp["error"], "/response/error", out)
                failures.extend((service, "-", p, m) for p, m in out)
                return failures
            return [(service, "-", "/response", "a batch must be answered with an array")]
        answers = {}  # id (as JSON) -> answers carrying it, in order; invalid requests share id null
        for j, a in enumerate(resp or []):
            key = json.dumps(a.get("id")) if isinstance(a, dict) else "?"
            answers.setdefault(key, []).append((j, a))
        for i, r in enumerate(req):
            valid = isinstance(r, dict) and r.get("jsonrpc") == "2.0" and isinstance(r.get("method"), str)
            if valid and "id" not in r:
                run(r, None, "/request/%d" % i, "/response")  # a notification: no answer
                continue
            key = json.dumps(r["id"]) if isinstance(r, dict) and "id" in r and _is_id(r["id"]) else "null"
            queue = answers.get(key) or ([] if valid else answers.get("null"))
            if queue:
                j, a = queue.pop(0)
                run(r, a, "/request/%d" % i, "/response/%d" % j)
            elif resp is None:
                run(r, None, "/request/%d" % i, "/response")
            else:
                failures.append((service, "-", "/request/%d" % i, "no answer in the batch response"))
        for queue in answers.values():
            for j, _ in queue:
                failures.append((service, "-", "/response/%d" % j, "answer matches no request of the batch"))
        return failures

    run(req, resp, "/request", "/response")
    return failures


def check_line_unique(services, entry):
    """check_line without repeats (jsonschema reports one `required` error per missing property)."""
    seen, out = set(), []
    for f in check_line(services, entry):
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out


def validate_files(paths, services, write=print):
    passed = failed = 0
    for path in paths:
        try:
            f = open(path, encoding="utf-8")
        except OSError as e:
            write("%s: cannot read: %s" % (path, e.strerror))
            failed += 1
            continue
        with f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    problems = check_line_unique(services, entry)
                except ValueError:
                    problems = [("-", "-", "", "not valid JSON")]
                for service, method, pointer, msg in problems:
                    write("%s:%d: %s %s %s: %s" % (path, lineno, service, method, pointer or "/", msg))
                if problems:
                    failed += 1
                else:
                    passed += 1
    write("schema: %d passed, %d failed" % (passed, failed))
    return 1 if failed or passed + failed == 0 else 0


# ----------------------------------------------------------------------------- copies inside Schemas/
def check_schema_copies(directory=SCHEMAS):
    """The documents inline their shared schemas (the OpenRPC meta-schema rejects $ref to components.errors,
    and inline schemas validate standalone). Prove every copy still equals its source."""
    problems = []
    with open(os.path.join(directory, "lead.schema.json")) as f:
        lead = json.load(f)
    if "$id" not in lead:
        problems.append("lead.schema.json: no $id")
    embedded = {k: v for k, v in lead.items() if k not in ("$schema", "$id")}
    submission = copy.deepcopy(embedded)
    submission["required"] = ["source", "fields"]
    submission["properties"]["source"]["required"] = ["platform"]

    docs = {}
    for name in SERVICES:
        with open(os.path.join(directory, name + ".openrpc.json")) as f:
            docs[name] = json.load(f)

    by_title = {}

    def walk(node, where):
        if isinstance(node, dict):
            t = node.get("title")
            if isinstance(t, str) and ("type" in node or "properties" in node):
                by_title.setdefault(t, []).append((where, node))
            for k, v in node.items():
                walk(v, where + "/" + str(k).replace("~", "~0").replace("/", "~1"))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, where + "/" + str(i))

    for name, doc in docs.items():
        walk(doc.get("methods", []), name + ".openrpc.json#/methods")
        walk(doc.get("components", {}).get("schemas", {}), name + ".openrpc.json#/components/schemas")

    for where, node in by_title.get(lead["title"], []):
        if node != embedded:
            problems.append(where + ": differs from lead.schema.json (without $schema and $id)")
    for where, node in by_title.get("Lead submission", []):
        strip = {k: v for k, v in node.items() if k not in ("title", "description")}
        want = {k: v for k, v in submission.items() if k not in ("title", "description")}
        if strip != want:
            problems.append(where + ": is not lead.schema.json with only source.platform and fields required")
    for title, found in by_title.items():
        if title in (lead["title"], "Lead submission"):
            continue
        first_where, first = found[0]
        for where, node in found[1:]:
            if node != first:
                problems.append("%s: differs from the schema titled %r at %s" % (where, title, first_where))

    def method(doc, name):
        return next((m for m in doc["methods"] if m["name"] == name), {})

    def at(doc, method_name, param=None):
        m = method(doc, method_name)
        if param is None:
            return (m.get("result") or {}).get("schema", {})
        return next((p["schema"] for p in m.get("params", []) if p["name"] == param), {})

    expected_leads = [
        ("ingest", at(docs["ingest"], "ingest.getLead")),
        ("ingest", at(docs["ingest"], "ingest.listLeads").get("properties", {}).get("items", {}).get("items")),
        ("ingest", at(docs["ingest"], "ingest.findLeads").get("properties", {}).get("items", {}).get("items")),
        ("ingest", docs["ingest"].get("components", {}).get("schemas", {}).get("Lead")),
        ("router", at(docs["router"], "router.enqueueLead", "lead")),
        ("router", docs["router"].get("components", {}).get("schemas", {}).get("Lead")),
    ]
    for service, node in expected_leads:
        if node != embedded:
            problems.append("%s.openrpc.json: a lead schema is missing or is not a copy of lead.schema.json" % service)
    if (at(docs["ingest"], "ingest.submitLead", "lead") or {}).get("title") != "Lead submission":
        problems.append("ingest.openrpc.json: ingest.submitLead lead is not the Lead submission schema")

    for name, doc in docs.items():
        catalog = doc.get("components", {}).get("errors", {})
        for key, e in catalog.items():
            if e.get("data", {}).get("name") != key:
                problems.append("%s.openrpc.json#/components/errors/%s: data.name differs from its key" % (name, key))
        for n in doc.get("x-common-errors", []):
            if n not in catalog:
                problems.append("%s.openrpc.json: x-common-errors names unknown %s" % (name, n))
        for m in doc.get("methods", []):
            for i, e in enumerate(m.get("errors", [])):
                key = e.get("data", {}).get("name") if isinstance(e, dict) else None
                if catalog.get(key) != e:
                    problems.append("%s.openrpc.json %s errors/%d: not a copy of a components.errors entry" % (name, m["name"], i))
    return problems


# ----------------------------------------------------------------------------- self-test
def _req(method, params=None, id_=1):
    r = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        r["params"] = params
    return r


def _ok(result, id_=1):
    return {"jsonrpc": "2.0", "id": id_, "result": result}


def _err(code, name, id_=1, detail="x"):
    data = {"name": name}
    if detail is not None:
        data["detail"] = detail
    return {"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": name, "data": data}}


def self_test():
    services = load_services()
    fails = []

    def expect(label, entry, should_fail, pointer=None):
        got = check_line(services, entry)
        if should_fail and not got:
            fails.append("known-bad not caught: " + label)
        elif not should_fail and got:
            fails.append("known-good rejected: %s: %s" % (label, "; ".join("%s %s" % (p, m) for _, _, p, m in got)))
        elif should_fail and pointer is not None and not any(p == pointer for _, _, p, _ in got):
            fails.append("known-bad %s: expected a failure at %s, got %s" % (label, pointer, [p for _, _, p, _ in got]))

    # Known good: every example in the documents, every discover, standard errors.
    examples = 0
    for name, svc in services.items():
        for m in svc.methods.values():
            for ex in m.get("examples", []):
                params = {p["name"]: p["value"] for p in ex.get("params", [])}
                expect("%s example %r" % (m["name"], ex["name"]),
                       {"service": name, "request": _req(m["name"], params), "response": _ok(ex["result"]["value"])}, False)
                examples += 1
        expect(name + " rpc.discover", {"service": name, "request": _req("rpc.discover", {}),
                                        "response": _ok(copy.deepcopy(svc.doc))}, False)
        expect(name + " ping, no params member", {"service": name, "request": _req("service.ping"),
                                                  "response": _ok({"pong": True, "time": "2026-11-23T10:00:00+01:00"})}, False)
        expect(name + " unknown method answered -32601", {"service": name, "request": _req(name + ".noSuchThing", {}),
                                                          "response": _err(-32601, "MethodNotFound", detail=None)}, False)
    if examples < 30:
        fails.append("only %d examples in the documents" % examples)
    expect("NotFound from getSecret", {"service": "vault", "request": _req("vault.getSecret", {"name": "nope"}),
                                       "response": _err(-32001, "NotFound")}, False)
    expect("bad params answered -32602", {"service": "vault", "request": _req("vault.getSecret", {"name": 7}),
                                          "response": _err(-32602, "InvalidParams")}, False)
    expect("notification without answer", {"service": "vault", "request": {"jsonrpc": "2.0", "method": "service.ping"},
                                            "response": None}, False)
    expect("batch", {"service": "audit",
                     "request": [_req("service.ping", {}, 1), {"jsonrpc": "2.0", "method": "service.ping"}, _req("audit.verify", {}, "b")],
                     "response": [_ok({"ok": True, "events": 0, "checkpoints": 0}, "b"),
                                  _ok({"pong": True, "time": "2026-11-23T10:00:00Z"}, 1)]}, False)
    expect("the JSON-RPC spec's mixed batch", {"service": "ingest", "request": [
        {"jsonrpc": "2.0", "method": "sum", "params": [1, 2, 4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"foo": "boo"}, 1,
        {"jsonrpc": "2.0", "method": "service.ping", "id": "9"}],
        "response": [_err(-32601, "MethodNotFound", "1", None),
                     {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request", "data": {"name": "InvalidRequest"}}},
                     {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request", "data": {"name": "InvalidRequest"}}},
                     _ok({"pong": True, "time": "2026-11-23T10:00:00Z"}, "9")]}, False)
    expect("invalid request answered -32600", {"service": "router", "request": {"jsonrpc": "2.0", "method": 1, "params": "bar"},
                                                "response": {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request", "data": {"name": "InvalidRequest"}}}}, False)
    expect("parse error", {"service": "router", "request": '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]',
                           "response": {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error", "data": {"name": "ParseError", "detail": "x"}}}}, False)

    # Known bad: the three the brief names, then the rest of what the checks promise.
    put = {"name": "hubspot/main", "value": "v", "readers": ["router"]}
    expect("wrong type", {"service": "vault", "request": _req("vault.putSecret", dict(put, readers="router")),
                          "response": _ok({"name": "hubspot/main", "version": 1})}, True, "/request/params/readers")
    expect("missing required param", {"service": "vault", "request": _req("vault.putSecret", {"name": "a", "value": "v"}),
                                       "response": _ok({"name": "a", "version": 1})}, True, "/request/params")
    expect("extra property", {"service": "vault", "request": _req("vault.getSecret", {"name": "a", "nmae": "b"}),
                              "response": None}, True, "/request/params")
    expect("extra result property", {"service": "vault", "request": _req("service.ping", {}),
                                      "response": _ok({"pong": True, "time": "2026-11-23T10:00:00Z", "extra": 1})}, True, "/response/result")
    expect("wrong result type", {"service": "vault", "request": _req("vault.putSecret", put),
                                 "response": _ok({"name": "hubspot/main", "version": "1"})}, True, "/response/result/version")
    expect("bad date-time", {"service": "ingest", "request": _req("service.ping", {}),
                             "response": _ok({"pong": True, "time": "2026-13-01T00:00:00Z"})}, True, "/response/result/time")
    expect("bad enum", {"service": "router", "request": _req("service.setLogLevel", {"level": "verbose"}),
                        "response": _ok({"level": "info", "previous": "info"})}, True, "/request/params/level")
    expect("wrong service name in info", {"service": "audit", "request": _req("service.info", {}),
                                          "response": _ok({"name": "vault", "version": "1", "pid": 1, "uptimeSeconds": 1,
                                                           "storagePath": "/x", "queues": {}})}, True, "/response/result/name")
    expect("unknown method with a result", {"service": "vault", "request": _req("vault.nope", {}), "response": _ok({})},
           True, "/request/method")
    expect("documented method answered -32601", {"service": "vault", "request": _req("vault.status", {}),
                                                 "response": _err(-32601, "MethodNotFound")}, True, "/response/error/code")
    expect("error without data", {"service": "vault", "request": _req("vault.getSecret", {"name": "a"}),
                                  "response": {"jsonrpc": "2.0", "id": 1, "error": {"code": -32001, "message": "Not found"}}},
           True, "/response/error/data")
    expect("domain error without detail", {"service": "vault", "request": _req("vault.getSecret", {"name": "a"}),
                                           "response": _err(-32001, "NotFound", detail=None)}, True, "/response/error/data/detail")
    expect("error name not the code's", {"service": "vault", "request": _req("vault.getSecret", {"name": "a"}),
                                         "response": _err(-32001, "Conflict")}, True, "/response/error/data/name")
    expect("undocumented code", {"service": "vault", "request": _req("vault.getSecret", {"name": "a"}),
                                 "response": _err(-32050, "Whatever")}, True, "/response/error/code")
    expect("error the method does not document", {"service": "vault", "request": _req("vault.listSecrets", {}),
                                                  "response": _err(-32001, "NotFound")}, True, "/response/error/code")
    expect("invalid params accepted", {"service": "vault", "request": _req("vault.getSecret", {"name": "bad name!"}),
                                       "response": _ok({"name": "x", "version": 1, "value": "v", "kind": "generic", "readers": []})},
           True, "/response/result")
    expect("positional params", {"service": "vault", "request": _req("vault.getSecret", ["a"]),
                                 "response": _ok({"name": "a", "version": 1, "value": "v", "kind": "generic", "readers": []})},
           True, "/request/params")
    expect("response id mismatch", {"service": "vault", "request": _req("service.ping", {}, 5),
                                    "response": _ok({"pong": True, "time": "2026-11-23T10:00:00Z"}, 6)}, True, "/response/id")
    expect("stale discover", {"service": "router", "request": _req("rpc.discover", {}),
                              "response": _ok({"openrpc": "1.2.6", "info": {"title": "x", "version": "0"}, "methods": []})},
           True, "/response/result")
    expect("findLeads without email or phone", {"service": "ingest", "request": _req("ingest.findLeads", {}),
                                                "response": _ok({"items": []})}, True, "/request/params")
    expect("webhook destination without url", {"service": "router",
                                                "request": _req("router.putDestination", {"id": "h", "kind": "webhook", "credential": "w"}),
                                                "response": None}, True)
    expect("salesforce option on hubspot", {"service": "router",
                                            "request": _req("router.putDestination", {"id": "h", "kind": "hubspot", "credential": "w",
                                                                                      "options": {"externalIdField": "X__c"}}),
                                            "response": None}, True, "/request/params/options")
    lead = copy.deepcopy(next(ex["params"][0]["value"] for ex in services["router"].methods["router.enqueueLead"]["examples"]))
    lead["fields"]["email"] = " Jane.Doe@Example.COM "
    expect("lead not normalized", {"service": "router", "request": _req("router.enqueueLead", {"lead": lead}), "response": None},
           True, "/request/params/lead/fields/email")
    lead["fields"]["email"] = "jane@example.com"
    del lead["source"]["externalId"]
    expect("meta lead without leadgen id", {"service": "router", "request": _req("router.enqueueLead", {"lead": lead}),
                                            "response": None}, True, "/request/params/lead/source")
    expect("actor in audit.append", {"service": "audit",
                                     "request": _req("audit.append", {"events": [{"action": "a.b", "subject": "", "outcome": "ok", "actor": "root"}]}),
                                     "response": None}, True, "/request/params/events/0")
    expect("notification answered", {"service": "audit", "request": {"jsonrpc": "2.0", "method": "service.ping"},
                                     "response": _ok({"pong": True, "time": "2026-11-23T10:00:00Z"}, None)}, True, "/response")
    expect("batch answer missing", {"service": "audit", "request": [_req("service.ping", {}, 1), _req("service.ping", {}, 2)],
                                    "response": [_ok({"pong": True, "time": "2026-11-23T10:00:00Z"}, 1)]}, True, "/request/1")
    expect("unknown service", {"service": "mailer", "request": _req("service.ping", {}), "response": None}, True)

    # Secret values never reach the output.
    secret = "s3cr3t-VALUE-must-not-print"
    bad = {"service": "vault", "request": _req("vault.putSecret", {"name": "a b", "value": 12, "readers": [secret], "kind": secret,
                                                                   "metadata": {"k": secret}, "expiresAt": secret}),
           "response": _ok({"name": secret, "version": secret})}
    with tempfile.TemporaryDirectory() as tmp:
        traffic = os.path.join(tmp, "traffic.jsonl")
        with open(traffic, "w") as f:
            f.write(json.dumps(bad) + "\n\n")
            f.write(json.dumps({"service": "vault", "request": _req("service.ping", {}),
                                "response": _ok({"pong": True, "time": "2026-11-23T10:00:00Z"})}) + "\n")
            f.write("{not json\n")
        buf = io.StringIO()
        with redirect_stdout(buf):
            rc = validate_files([traffic], services)
        text = buf.getvalue()
        if secret in text:
            fails.append("a param value was printed")
        if rc != 1 or not text.rstrip().endswith("schema: 1 passed, 2 failed"):
            fails.append("end-to-end run: rc %d, last line %r" % (rc, text.rstrip().splitlines()[-1]))
        empty = os.path.join(tmp, "empty.jsonl")
        open(empty, "w").close()
        buf = io.StringIO()
        with redirect_stdout(buf):
            rc = validate_files([empty], services)
        if rc != 1 or buf.getvalue().strip() != "schema: 0 passed, 0 failed":
            fails.append("zero traffic did not fail")

    # The inline copies and the error catalogue.
    fails.extend("copies: " + p for p in check_schema_copies())

    # config.schema.json: its defaults form a valid config; strictness holds.
    with open(os.path.join(SCHEMAS, "config.schema.json")) as f:
        cfg_schema = json.load(f)
    cfg = make_validator(cfg_schema)

    def defaults(schema):
        if schema.get("type") == "object" and "properties" in schema:
            return {k: defaults(v) for k, v in schema["properties"].items()}
        return copy.deepcopy(schema["default"])

    def undocumented(schema, where):
        out = [] if "description" in schema else [where]
        if schema.get("type") == "object" and "properties" in schema:
            if schema.get("additionalProperties") is not False:
                out.append(where + " (allows unknown keys)")
            for k, v in schema["properties"].items():
                out += undocumented(v, where + "." + k if where else k)
        return out

    full = defaults(cfg_schema)
    for label, instance, should_fail in [
        ("all defaults", full, False), ("empty file", {}, False),
        ("unknown section", {"mailer": {}}, True), ("unknown key", {"rpc": {"max_line": 1}}, True),
        ("wrong type", {"retention": {"lead_days": "30"}}, True), ("bad level", {"log": {"level": "verbose"}}, True),
        ("numeric form id", {"ingest": {"forms": [555]}}, True),
    ]:
        bad = list(cfg.iter_errors(instance))
        if bool(bad) != should_fail:
            fails.append("config %s: %s" % (label, "accepted" if should_fail else [describe(e)[1] for e in bad]))
    want = {"paths": {"runtime_dir": "/run/leadline", "state_dir": "/var/lib/leadline"},
            "access": {"admins": ["root"], "submitters": [],
                       "services": {s: "leadline-" + s for s in SERVICES}},
            "rpc": {"max_line_bytes": 1048576, "max_connections_per_uid": 64, "idle_timeout_seconds": 300, "call_timeout_seconds": 30},
            "log": {"level": "info"},
            "meta": {"app_id": "", "app_secret": "meta/app-secret", "verify_token": "meta/verify-token",
                     "graph_base_url": "https://graph.facebook.com", "graph_version": "v25.0", "page_token_prefix": "meta/page/"},
            "ingest": {"webhook_listen": "127.0.0.1:8470", "max_body_bytes": 1048576, "reconcile_interval_seconds": 600, "forms": []},
            "router": {"max_attempts_hours": 72},
            "vault": {"rotate_after_encryptions": 1000000, "rotate_after_days": 90},
            "audit": {"checkpoint_every_events": 1000, "checkpoint_every_seconds": 60, "pii_hash_key": "audit/pii-hash-key"},
            "retention": {"lead_days": 30, "delivery_log_days": 90, "audit_days": 730}}
    if full != want:
        fails.append("config defaults differ from DESIGN.md")
    fails.extend("config: no description or open object at " + w for w in undocumented(cfg_schema, "")[:10])

    for f in fails:
        print("self-test: " + f)
    print("self-test: %s (%d examples checked)" % ("FAILED, %d problem(s)" % len(fails) if fails else "ok", examples))
    return 1 if fails else 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    if not argv or any(a.startswith("-") for a in argv):
        print("usage: validate_traffic.py TRAFFIC.jsonl [...] | --self-test")
        return 2
    return validate_files(argv, load_services())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
