#!/usr/bin/env python3
"""Measures how long alliance-sim takes from exec to its start line and to the first page of
GET /work-orders, then how long a restart on the same data takes. A benchmark, not a test.

Usage: measure-startup.py BINARY [SEED]      (SEED defaults to 10000)
"""
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request


def request(url, body=None, headers=None):
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", **(headers or {})},
                                 method="GET" if body is None else "POST")
    with urllib.request.urlopen(req) as answer:
        return json.load(answer)


def main():
    binary = sys.argv[1]
    seed = sys.argv[2] if len(sys.argv) > 2 else "10000"
    data = tempfile.mkdtemp(prefix="alliance-sim-measure-")
    try:
        start = time.monotonic()
        sim = subprocess.Popen([binary, "--port", "0", "--seed", seed, "--data", data], stdout=subprocess.PIPE, text=True)
        line = json.loads(sim.stdout.readline())
        started = time.monotonic()
        user = next(u for u in line["users"] if u["mfa"] == "none")
        token = request(line["baseUrl"] + "/sessions",
                        {"username": user["username"], "password": user["password"], "tenant": user["tenant"]},
                        {"Authorization": "Basic " + line["integrationToken"]})["authToken"]
        page = request(line["baseUrl"] + "/work-orders", headers={"Authorization": "Bearer " + token})
        served = time.monotonic()
        sim.terminate()
        sim.wait()
        print(f"--seed {seed}: start line after {started - start:.2f} s, first page "
              f"({len(page['items'])} of {page['total']}) after {served - start:.2f} s")

        start = time.monotonic()
        sim = subprocess.Popen([binary, "--port", "0", "--data", data], stdout=subprocess.PIPE, text=True)
        json.loads(sim.stdout.readline())
        print(f"restart on the same data: start line after {time.monotonic() - start:.2f} s")
        sim.terminate()
        sim.wait()
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
