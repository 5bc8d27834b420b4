#!/usr/bin/env bash
# Runs the seed document's three curl examples, as written there, against a fresh alliance-sim:
# the placeholders filled with the dispatcher demo user's real credentials and a TOTP code
# computed now. Prints each answer; exits non-zero when a call does not answer 200/201.
#   tests/alliance-sim/seed-examples.sh [path/to/alliance-sim]
set -euo pipefail
sim=${1:-build/dev/tests/alliance-sim/alliance-sim}
# The start line is the readiness signal: read it from the sim's stdout as it comes.
coproc SIM { exec "$sim" --port 0 --seed 50; }
pid=$SIM_PID
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null' EXIT
read -r line <&"${SIM[0]}"
read -r base token user password secret < <(python3 -c '
import json, sys
line = json.loads(sys.argv[1])
u = next(x for x in line["users"] if "dispatch" in x["entitlements"] and x["mfa"] == "totp")
print(line["baseUrl"], line["integrationToken"], u["username"], u["password"], u["totpSecret"])
' "$line")
code=$(python3 - "$secret" <<'PY'
import base64, hashlib, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
o = mac[-1] & 15
print("%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000))
PY
)

call() {  # prints the body, fails unless the status is the expected one
  local expect=$1; shift
  local answer status
  answer=$(curl -s -w '\n%{http_code}' "$@")
  status=${answer##*$'\n'}
  echo "${answer%$'\n'*}"
  echo "-> HTTP $status"
  [ "$status" = "$expect" ]
}

echo "== POST /sessions"
session=$(curl -s --request POST \
  --url "$base/sessions" \
  --header "Authorization: Basic $token" \
  --header 'Content-Type: application/json' \
  --data "{
    \"username\": \"$user\",
    \"password\": \"$password\",
    \"tenant\": \"global-services\",
    \"mfa\": { \"type\": \"totp\", \"code\": \"$code\" }
  }")
echo "$session"
auth=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["authToken"])' "$session")

echo "== POST /work-orders/wo_1f92a0/assignments"
call 201 --request POST \
  --url "$base/work-orders/wo_1f92a0/assignments" \
  --header "Authorization: Bearer $auth" \
  --header 'Content-Type: application/json' \
  --data '{
    "technicianId": "tech_45af1d",
    "scheduledStart": "2026-01-21T13:00:00Z",
    "scheduledEnd": "2026-01-21T17:00:00Z",
    "routeSequence": 3,
    "notifyTechnician": true,
    "note": "Urgent—SLA breach risk"
  }'

echo "== POST /work-orders/wo_1f92a0/consumptions"
call 201 --request POST \
  --url "$base/work-orders/wo_1f92a0/consumptions" \
  --header "Authorization: Bearer $auth" \
  --header 'Content-Type: application/json' \
  --data '{
    "parts": [
      {
        "partNumber": "FILTER-XL",
        "description": "XL Air Filter",
        "quantity": 2,
        "uom": "EA",
        "warehouseId": "wh_01",
        "bin": "A-14",
        "serialNumbers": [],
        "lotNumber": null
      }
    ],
    "labor": [
      {
        "technicianId": "tech_45af1d",
        "laborType": "regular",
        "hours": 3.5,
        "startAt": "2026-01-21T14:00:00Z",
        "endAt": "2026-01-21T17:30:00Z",
        "notes": "Diagnostics and filter replacement"
      }
    ],
    "customerSignature": {
      "name": "Dana Harris",
      "signedAt": "2026-01-21T17:35:00Z",
      "signatureToken": "upl_7fa223"
    }
  }'
