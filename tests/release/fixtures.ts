import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { sha256, stringToHex } from "viem";
import { writeCheckpoint } from "../../checkpoints/index.ts";
import { assignShards, type DatasetManifest, packDataset } from "../../datasets/index.ts";
import { outerStep } from "../../diloco/index.ts";
import { releaseFacts } from "../../download/index.ts";
import { approveDatasetProposal, releaseCheckpointProposal } from "../../governance/proposals.ts";
import { commitRound, recordPublication } from "../../governance/writes.ts";
import { deployDao, type LocalDao } from "../../localstack/dao.ts";
import { approveRun } from "../../localstack/story.ts";
import { initialCheckpoint } from "../../model/index.ts";
import { publishRelease } from "../../release/publish.ts";
import { parseRunSpec, type RunSpec, runIdOf } from "../../spec/runSpec.ts";
import { trainerEnvVars } from "../../spec/trainerContract.ts";
import { openStore } from "../../storage/index.ts";
import { type Anvil, startAnvil } from "../harness/anvil.ts";
import { TEST_IMAGE } from "../orchestration/fixtures.ts";
import { runTrainer } from "../trainer/trainedRound.ts";

const repo = new URL("../../", import.meta.url).pathname;

export interface ReleasedModel {
  anvil: Anvil;
  dao: LocalDao;
  deploymentFile: string;
  spec: RunSpec;
  runId: `0x${string}`;
  dataset: DatasetManifest;
  datasetDir: string;
  /** The committed round-1 checkpoint (the outer step's output). */
  checkpointDir: string;
  root: `0x${string}`;
  /** The public store the release was published to (a local directory). */
  publicStoreUri: string;
}

/**
 * A model the DAO released, made the way a run makes it: the shipped corpus packed and approved
 * by vote, a run approved, two replicas trained by the real trainer process from round 0, the
 * DiLoCo outer step aggregating them into round 1, its root committed, the round released by vote,
 * and the release published to a public store with its URI recorded on-chain.
 */
export async function releasedModel(work: string): Promise<ReleasedModel> {
  const anvil = await startAnvil();
  const deploymentFile = join(work, "deployment.json");
  const dao = await deployDao(anvil, deploymentFile);
  const datasetDir = join(work, "dataset");
  const dataset = await packDataset(join(repo, "datasets/corpus"), datasetDir, { shardTokens: 16_384 });
  await dao.pass(
    approveDatasetProposal(dao.deployment.contracts, {
      root: dataset.root,
      uri: pathToFileURL(datasetDir).href,
      license: "CC0-1.0",
    }),
  );
  const spec = parseRunSpec({
    name: "release-test-lm",
    model: {
      architecture: "transformer-lm",
      vocabSize: 256,
      contextLength: 64,
      dModel: 64,
      layers: 2,
      heads: 4,
    },
    dataset: dataset.root,
    rounds: 1,
    innerSteps: 150,
    replicasPerRound: 2,
    minReplicas: 2,
    gpusPerReplica: 0,
    gpuHourBudget: 1,
    rewardPerGpuHour: "1000",
    outer: {},
    inner: { optimizer: "adamw", lr: 6e-3, batch: 8 },
    validation: { batches: 2, tolerance: 0.5 },
    seed: 11,
    image: TEST_IMAGE,
  });
  const { runId } = await approveRun(dao, spec);

  const init = initialCheckpoint(spec);
  const global0 = await writeCheckpoint(join(work, "global-0"), init.tensors, init.fields);
  const replicas = [0, 1].map((replica) => ({
    id: `r${replica}`,
    index: replica,
    dir: join(work, `replica-${replica}`),
  }));
  await Promise.all(
    replicas.map(async (r, replica) => {
      const run = await runTrainer(
        trainerEnvVars({
          DAOTRAIN_RUN_ID: runIdOf(spec),
          DAOTRAIN_ROUND: 0,
          DAOTRAIN_REPLICA: replica,
          DAOTRAIN_REPLICAS: 2,
          DAOTRAIN_INIT_URI: pathToFileURL(join(work, "global-0")).href,
          DAOTRAIN_INIT_ROOT: global0.root,
          DAOTRAIN_DATASET_URI: pathToFileURL(datasetDir).href,
          DAOTRAIN_DATASET_ROOT: dataset.root,
          DAOTRAIN_SHARDS: assignShards(dataset, replica, 2).join(","),
          DAOTRAIN_INNER_STEPS: spec.innerSteps,
          DAOTRAIN_SEED: 5,
          DAOTRAIN_OUTPUT_URI: pathToFileURL(r.dir).href,
        }),
        180_000,
      );
      if (run.code !== 0) throw new Error(`trainer ${r.id} exited ${run.code}: ${run.stderr}`);
    }),
  );
  const step = await outerStep({
    global: join(work, "global-0"),
    globalRoot: global0.root,
    replicas,
    spec,
    dataset: async () => datasetDir,
  });
  const checkpointDir = join(work, "global-1");
  const global1 = await step.write(checkpointDir);
  await commitRound(dao.operator, {
    runId,
    round: 1n,
    root: global1.root,
    manifestUri: pathToFileURL(join(checkpointDir, "manifest.json")).href,
    // This fixture plays the operator by hand: no round record is published (the registry only
    // refuses a zero hash), and nothing is paid.
    recordHash: sha256(stringToHex("release fixture: no round record")),
    records: [],
    metrics: {
      loss: global1.metrics.loss ?? 0,
      valLoss: global1.metrics.valLoss ?? 0,
      tokens: BigInt(global1.metrics.tokens),
      steps: BigInt(global1.metrics.steps),
    },
  });
  await dao.pass(releaseCheckpointProposal(dao.deployment.contracts, runId, 1n));

  const publicStoreUri = pathToFileURL(join(work, "public")).href;
  const facts = await releaseFacts(dao.operator, runId, 1);
  const published = await publishRelease(checkpointDir, facts, openStore(publicStoreUri), `${runId}/1`);
  await recordPublication(dao.operator, { runId, round: 1n, publishedManifestUri: published.uri });
  return {
    anvil,
    dao,
    deploymentFile,
    spec,
    runId,
    dataset,
    datasetDir,
    checkpointDir,
    root: global1.root,
    publicStoreUri,
  };
}
