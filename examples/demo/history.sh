#!/usr/bin/env bash
# Makes a git repository with two releases of the demo, for `cargo run --example diff`:
#   v1    the demo as it is in examples/demo
#   main  one release later: a new image, a rotated token, an autoscaler instead of a fixed
#         replica count, and no PodDisruptionBudget
# Usage: examples/demo/history.sh DIR   (DIR must not exist yet)
set -eu
demo=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: history.sh DIR}
if [ -e "$dir" ]; then
  echo "history.sh: $dir already exists" >&2
  exit 2
fi
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Converge Demo" GIT_AUTHOR_EMAIL=demo@converge.invalid
export GIT_COMMITTER_NAME="Converge Demo" GIT_COMMITTER_EMAIL=demo@converge.invalid

mkdir -p "$dir"
cp -R "$demo/base" "$demo/staging" "$demo/production" "$dir/"
cd "$dir"
git init -q -b main
git add -A
GIT_AUTHOR_DATE=2026-01-05T10:00:00Z GIT_COMMITTER_DATE=2026-01-05T10:00:00Z \
  git commit -q -m "web v6.7.1 in staging and production"
git tag v1

for f in base/web.yaml staging/web.yaml production/web.yaml; do
  sed -i 's|podinfo:6.7.1|podinfo:6.8.0|' "$f"
done
sed -i 's|API_TOKEN: demo-token-v1|API_TOKEN: demo-token-v2|' production/secret.yaml
# Production scales with load now: the autoscaler owns the replica count.
python3 - production/web.yaml <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
text = text.replace("  replicas: 3\n", "")
text = text[: text.index("---\napiVersion: policy/v1")]
open(path, "w").write(text)
PY
cat > production/autoscaler.yaml <<'YAML'
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: demo-production
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  minReplicas: 3
  maxReplicas: 10
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 70
YAML
git add -A
GIT_AUTHOR_DATE=2026-01-12T10:00:00Z GIT_COMMITTER_DATE=2026-01-12T10:00:00Z \
  git commit -q -m "web v6.8.0, rotated token, production autoscales"
echo "demo history in $dir: tag v1, branch main"
