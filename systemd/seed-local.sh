#!/usr/bin/env bash
# Seeds the `make run` stack with a sample setup that uses the local vendor doubles only:
# Meta app secret and verify token, a page token, a HubSpot token, a HubSpot destination and a
# route for every lead. Then `leadctl test-lead` shows a lead travel from webhook to CRM record.
# Values are dev placeholders; production secrets are stored with `leadctl secrets put`.
set -euo pipefail
BIN_DIR=${BIN_DIR:?}
HUBSPOT_PORT=${HUBSPOT_PORT:?}
leadctl() { "$BIN_DIR/leadctl" "$@"; }

put() {  # name reader kind value
  printf '%s' "$4" | leadctl secrets put "$1" --reader "$2" --kind "$3" >/dev/null
}
if ! leadctl secrets list --json | grep -q '"meta/app-secret"'; then
  put meta/app-secret ingest meta-app-secret "dev-app-secret"
  put meta/verify-token ingest meta-verify-token "dev-verify-token"
  put meta/page/153125381133 ingest meta-page-token "dev-page-token"
  put hubspot/dev router hubspot-token "dev-hubspot-token"
fi
leadctl destinations add hubspot-dev --kind hubspot --credential hubspot/dev \
  --base-url "http://127.0.0.1:$HUBSPOT_PORT" >/dev/null
leadctl routes add all-to-hubspot --destination hubspot-dev \
  --map email=email --map firstname=firstName --map lastname=lastName --map phone=phone >/dev/null
echo "seeded: secrets (dev placeholders), destination hubspot-dev -> HubSpot double, route all-to-hubspot"
echo "try:    $BIN_DIR/leadctl test-lead && sleep 2 && $BIN_DIR/leadctl deliveries list"
