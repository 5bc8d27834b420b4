#!/usr/bin/env python3
"""Checks that alliance-sim's real answers match docs/upstream-openapi.yaml: starts the sim,
calls every contract endpoint once (the happy path and a few errors), and validates each JSON
body against the schema the spec gives for that operation and status. Needs PyYAML and
jsonschema. Exit status 1 on any mismatch.

Usage: check-openapi.py BINARY [SPEC]
"""
import copy
import hashlib
import json
import subprocess
import sys
import urllib.error
import urllib.request

import jsonschema
import yaml


def to_json_schema(node):
    """OpenAPI 3.0 schema objects -> JSON Schema draft 7 (nullable, boolean exclusiveMinimum, refs)."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example", "format")}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    if out.get("exclusiveMinimum") is True:
        out["exclusiveMinimum"] = out.pop("minimum", 0)
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = out["enum"] + [None]
        if "$ref" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def main():
    binary = sys.argv[1]
    spec = yaml.safe_load(open(sys.argv[2] if len(sys.argv) > 2 else "docs/upstream-openapi.yaml"))
    definitions = {name: to_json_schema(s) for name, s in spec["components"]["schemas"].items()}
    responses = spec["components"]["responses"]

    def schema_for(path, method, status):
        op = spec["paths"][path][method]
        answer = op["responses"].get(str(status))
        if answer is None:
            raise AssertionError(f"{method.upper()} {path}: status {status} is not in the spec")
        if "$ref" in answer:
            answer = responses[answer["$ref"].split("/")[-1]]
        content = answer.get("content", {}).get("application/json")
        if content is None:
            return None
        return dict(to_json_schema(copy.deepcopy(content["schema"])), definitions=definitions)

    sim = subprocess.Popen([binary, "--port", "0", "--seed", "60"], stdout=subprocess.PIPE, text=True)
    failures = []
    checked = 0
    try:
        line = json.loads(sim.stdout.readline())
        base = line["baseUrl"]

        def call(method, template, path=None, body=None, token=None, headers=None, expect=None):
            nonlocal checked
            req = urllib.request.Request(base + (path or template), method=method.upper(),
                                         data=None if body is None else json.dumps(body).encode())
            req.add_header("Content-Type", "application/json")
            if token:
                req.add_header("Authorization", "Bearer " + token)
            for k, v in (headers or {}).items():
                req.add_header(k, v)
            try:
                with urllib.request.urlopen(req) as r:
                    status, payload = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, payload = e.code, e.read()
            where = f"{method.upper()} {path or template} -> {status}"
            try:
                if expect is not None and status != expect:
                    raise AssertionError(f"expected {expect}: {payload[:300]!r}")
                schema = schema_for(template.split("?")[0], method, status)
                document = json.loads(payload) if payload else None
                if schema is not None:
                    jsonschema.Draft7Validator(schema).validate(document)
                checked += 1
            except (AssertionError, jsonschema.ValidationError) as e:
                failures.append(f"{where}: {str(e).splitlines()[0]}")
                document = None
            return document

        svc = next(u for u in line["users"] if u["mfa"] == "none")
        session = call("post", "/sessions", body={k: svc[k] for k in ("username", "password", "tenant")},
                       headers={"Authorization": "Basic " + line["integrationToken"]}, expect=200)
        t = session["authToken"]
        call("post", "/sessions", body={"username": svc["username"], "password": "x", "tenant": "global-services"},
             headers={"Authorization": "Basic " + line["integrationToken"]}, expect=401)
        call("get", "/work-orders", "/work-orders?sort=updatedAt&pageSize=5", token=t, expect=200)
        call("get", "/work-orders", "/work-orders?pageSize=500", token=t, expect=400)
        call("get", "/work-orders", token="bad", expect=401)
        wo = "/work-orders/wo_1f92a0"
        call("get", "/work-orders/{workOrderId}", wo, token=t, expect=200)
        call("get", "/work-orders/{workOrderId}", "/work-orders/wo_none", token=t, expect=404)
        call("post", "/work-orders/{workOrderId}/status", wo + "/status", {"status": "completed"}, t, expect=409)
        call("post", "/work-orders/{workOrderId}/status", wo + "/status", {"status": "en_route"}, t,
             headers={"If-Match": '"stale"'}, expect=412)
        call("post", "/work-orders/{workOrderId}/status", wo + "/status", {"status": "en_route"}, t, expect=200)
        call("patch", "/work-orders/{workOrderId}", wo, {"priority": "urgent"}, t, expect=200)
        assignment = {"technicianId": "tech_45af1d", "scheduledStart": "2026-01-21T13:00:00Z",
                      "scheduledEnd": "2026-01-21T17:00:00Z", "routeSequence": 3, "notifyTechnician": True,
                      "note": "Urgent"}
        call("post", "/work-orders/{workOrderId}/assignments", wo + "/assignments", assignment, t,
             headers={"Idempotency-Key": "k1"}, expect=201)
        call("post", "/work-orders/{workOrderId}/assignments", wo + "/assignments", dict(assignment, routeSequence=4),
             t, headers={"Idempotency-Key": "k1"}, expect=422)
        consumption = {"parts": [{"partNumber": "FILTER-XL", "quantity": 2, "warehouseId": "wh_01", "bin": "A-14"}],
                       "labor": [{"technicianId": "tech_45af1d", "laborType": "regular", "hours": 1.5}],
                       "customerSignature": {"name": "Dana Harris", "signedAt": "2026-01-21T17:35:00Z",
                                             "signatureToken": "upl_7fa223"}}
        call("post", "/work-orders/{workOrderId}/consumptions", wo + "/consumptions", consumption, t, expect=201)
        call("post", "/work-orders/{workOrderId}/consumptions", wo + "/consumptions",
             dict(consumption, customerSignature=dict(consumption["customerSignature"], signatureToken="upl_x")),
             t, expect=422)
        call("get", "/work-orders/{workOrderId}/consumptions", wo + "/consumptions", token=t, expect=200)
        data = b"photo bytes" * 100
        slot = call("post", "/work-orders/{workOrderId}/attachments", wo + "/attachments",
                    {"kind": "photo", "fileName": "p.jpg", "contentType": "image/jpeg", "sizeBytes": len(data),
                     "sha256": hashlib.sha256(data).hexdigest()}, t, expect=201)
        att = f"{wo}/attachments/{slot['attachmentId']}"
        call("post", "/work-orders/{workOrderId}/attachments/{attachmentId}/complete", att + "/complete", {}, t,
             expect=409)
        call("post", "/work-orders/{workOrderId}/attachments/{attachmentId}/upload-url", att + "/upload-url", {}, t,
             expect=200)
        up = urllib.request.Request(slot["upload"]["url"], data=data, method="PATCH", headers={
            "Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"})
        urllib.request.urlopen(up).close()
        call("post", "/work-orders/{workOrderId}/attachments/{attachmentId}/complete", att + "/complete", {}, t,
             expect=200)
        call("get", "/work-orders/{workOrderId}/attachments", wo + "/attachments", token=t, expect=200)
        for template, path in [("/customers", "/customers"), ("/customers/{customerId}", "/customers/cust_88b32e"),
                               ("/sites", "/sites?customerId=cust_88b32e"), ("/assets", "/assets?siteId=site_2201"),
                               ("/assets/{assetId}", "/assets/asset_9a01"),
                               ("/contracts", "/contracts?customerId=cust_88b32e"), ("/parts", "/parts"),
                               ("/inventory", "/inventory?warehouseId=wh_01"), ("/technicians", "/technicians"),
                               ("/technicians/{technicianId}", "/technicians/tech_45af1d")]:
            call("get", template, path, token=t, expect=200)
        call("get", "/customers/{customerId}", "/customers/cust_none", token=t, expect=404)
    finally:
        sim.terminate()
        sim.wait()
    for f in failures:
        print("MISMATCH", f)
    print(f"{checked} answers match the spec, {len(failures)} do not")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
