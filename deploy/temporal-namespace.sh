#!/bin/sh
# One-shot for docker-compose.yml, run by the temporal-namespace service in the
# temporalio/admin-tools image: waits until the Temporal server answers `temporal operator
# cluster health`, then creates the namespace the workers use (temporalio/server, unlike the
# retired auto-setup image, creates none). The workers start only once this has succeeded.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${NAMESPACE_RETENTION:-72h}"
ATTEMPTS="${HEALTH_ATTEMPTS:-60}"

attempt=1
until temporal operator cluster health --address "$ADDRESS"; do
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "Temporal at $ADDRESS is not healthy after $ATTEMPTS attempts" >&2
    exit 1
  fi
  echo "waiting for Temporal at $ADDRESS ($attempt/$ATTEMPTS)"
  attempt=$((attempt + 1))
  sleep 2
done

if temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE exists"
else
  temporal operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
  echo "namespace $NAMESPACE created"
fi

# A new namespace reaches the frontend's namespace cache some seconds later; until then a worker's
# polls fail with "namespace not found". Listing workflows goes through that cache, so wait for it.
attempt=1
until temporal workflow list --address "$ADDRESS" --namespace "$NAMESPACE" --limit 1 >/dev/null 2>&1; do
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "namespace $NAMESPACE is not usable after $ATTEMPTS attempts" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done
echo "namespace $NAMESPACE is ready"
