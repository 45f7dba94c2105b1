import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { ApplicationFailure } from "@temporalio/common";
import type { Governance } from "../../governance/chain.ts";
import { type GovernanceEvent as ChainEvent, pollEvents } from "../../governance/watcher.ts";
import { parseRunSpec, runIdOf } from "../../spec/runSpec.ts";
import { openStore, splitObjectUri } from "../../storage/index.ts";
import type { GovernanceActivities, GovernanceEvent } from "../../workflows/activities.ts";

export function governanceActivities(chain: Governance): GovernanceActivities {
  return {
    async pollGovernance({ fromBlock }) {
      const { events, cursor } = await pollEvents(chain, { cursor: { nextBlock: fromBlock } });
      return { events: events.flatMap(toGovernanceEvent), nextBlock: cursor.nextBlock };
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

/** The events the orchestration acts on; every other governance event is skipped. */
function toGovernanceEvent(event: ChainEvent): GovernanceEvent[] {
  const block = Number(event.blockNumber);
  switch (event.eventName) {
    case "RunApproved":
      return [{ kind: "runApproved", runId: event.args.runId, specUri: event.args.specUri, block }];
    case "RunCancelled":
      return [{ kind: "runCancelled", runId: event.args.runId, block }];
    case "CheckpointReleased":
      return [
        { kind: "checkpointReleased", runId: event.args.runId, round: Number(event.args.round), block },
      ];
    default:
      return [];
  }
}
