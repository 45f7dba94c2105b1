import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { ApplicationFailure } from "@temporalio/common";
import { checkpointRegistryAbi, runRegistryAbi } from "../../contracts/abi/index.ts";
import type { Governance } from "../../governance/chain.ts";
import { parseRunSpec, runIdOf } from "../../spec/runSpec.ts";
import { openStore, splitObjectUri } from "../../storage/index.ts";
import type { GovernanceActivities, GovernanceEvent } from "../../workflows/activities.ts";

/** Blocks read per poll, so a watcher far behind the head catches up in bounded steps. */
const MAX_BLOCKS_PER_POLL = 5_000n;

export function governanceActivities(chain: Governance): GovernanceActivities {
  const { runRegistry, checkpointRegistry } = chain.deployment.contracts;
  return {
    async pollGovernance({ fromBlock }) {
      const head = await chain.publicClient.getBlockNumber();
      const from = BigInt(fromBlock);
      if (from > head) return { events: [], nextBlock: fromBlock };
      const to = head - from >= MAX_BLOCKS_PER_POLL ? from + MAX_BLOCKS_PER_POLL - 1n : head;
      const range = { fromBlock: from, toBlock: to, strict: true } as const;
      const [runs, checkpoints] = await Promise.all([
        chain.publicClient.getContractEvents({ address: runRegistry, abi: runRegistryAbi, ...range }),
        chain.publicClient.getContractEvents({
          address: checkpointRegistry,
          abi: checkpointRegistryAbi,
          ...range,
        }),
      ]);
      const events: (GovernanceEvent & { logIndex: number })[] = [];
      for (const log of [...runs, ...checkpoints]) {
        const block = Number(log.blockNumber);
        const logIndex = log.logIndex;
        if (log.eventName === "RunApproved") {
          events.push({
            kind: "runApproved",
            runId: log.args.runId,
            specUri: log.args.specUri,
            block,
            logIndex,
          });
        } else if (log.eventName === "RunCancelled") {
          events.push({ kind: "runCancelled", runId: log.args.runId, block, logIndex });
        } else if (log.eventName === "CheckpointReleased") {
          events.push({
            kind: "checkpointReleased",
            runId: log.args.runId,
            round: Number(log.args.round),
            block,
            logIndex,
          });
        }
      }
      events.sort((a, b) => a.block - b.block || a.logIndex - b.logIndex);
      return { events: events.map(({ logIndex: _, ...event }) => event), nextBlock: Number(to) + 1 };
    },

    async fetchRunSpec({ runId, specUri }) {
      const spec = parseRunSpec(JSON.parse(await readSpecText(specUri)), `run spec at ${specUri}`);
      if (runIdOf(spec) !== runId) {
        throw ApplicationFailure.nonRetryable(
          `the spec at ${specUri} hashes to ${runIdOf(spec)}, not the approved run ${runId}; the proposal points at the wrong spec`,
          "RunSpecMismatchError",
        );
      }
      return spec;
    },
  };
}

/** A run spec URI: inline (`data:…;base64,`), a local file, or an object in a store. */
async function readSpecText(uri: string): Promise<string> {
  if (uri.startsWith("data:")) {
    const comma = uri.indexOf(",");
    const body = uri.slice(comma + 1);
    return uri.slice(0, comma).endsWith(";base64")
      ? Buffer.from(body, "base64").toString("utf8")
      : decodeURIComponent(body);
  }
  if (uri.startsWith("file:")) return await readFile(fileURLToPath(uri), "utf8");
  const { storeUri, key } = splitObjectUri(uri);
  return Buffer.from(await openStore(storeUri).getBytes(key)).toString("utf8");
}
