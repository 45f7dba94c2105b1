// The public surface of k8s/: what workers/ and cli/ import.
export * from "./cluster.ts";
export {
  type AccessCheck,
  checkAccess,
  type OnboardResult,
  onboardContributor,
} from "./contributor/onboard.ts";
export { ClusterApiError, KubernetesCluster, type KubernetesClusterOptions } from "./kubernetesCluster.ts";
export { LocalCluster, type LocalClusterOptions } from "./local/localCluster.ts";
export { buildRoundJob, replicaEnvs } from "./roundJob.ts";
