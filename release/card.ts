import { parameterShapes } from "../model/parameters.ts";
import type { Bytes32, RunSpec } from "../spec/runSpec.ts";
import { RELEASE_FILES, RELEASE_MANIFEST_FILE } from "./manifest.ts";

/** A committed round as the chain records it. */
export interface CommittedRoundFact {
  readonly round: number;
  readonly root: Bytes32;
  readonly commitTx: Bytes32;
  readonly loss: number;
  readonly valLoss: number;
}

/**
 * What the model card says besides the run spec (whose sha256 is the run id): facts read from the
 * chain, none of which can change once the round is released, so that a verifier re-reads them
 * and recomputes the card byte for byte.
 */
export interface ReleaseFacts {
  readonly chainId: number;
  readonly checkpointRegistry: `0x${string}`;
  readonly runId: Bytes32;
  readonly round: number;
  readonly dataset: { readonly root: Bytes32; readonly uri: string; readonly license: string };
  /** Rounds 1 … `round`, each with its commit transaction. */
  readonly rounds: readonly CommittedRoundFact[];
  readonly releaseTx: Bytes32;
}

const table = (rows: readonly string[][]) => rows.map((cells) => `| ${cells.join(" | ")} |`).join("\n");

/** The model card, `README.md` with the Hub's YAML front matter. */
export function renderCard(spec: RunSpec, facts: ReleaseFacts): string {
  const { runId, round } = facts;
  const released = facts.rounds.find((r) => r.round === round);
  if (!released) throw new Error(`the facts hold no commit of round ${round}`);
  const m = spec.model;
  const params = parameterShapes(m).reduce((sum, [, shape]) => sum + shape.reduce((a, b) => a * b, 1), 0);
  return `---
license: other
license_name: ${JSON.stringify(facts.dataset.license)}
library_name: transformers
pipeline_tag: text-generation
tags: [daotrain, diloco, gpt2]
---

# ${spec.name} — round ${round} of ${spec.rounds}

A GPT-2-architecture language model (${m.layers} layers, ${m.heads} heads, d_model ${m.dModel}, context ${m.contextLength}, byte-level vocabulary of ${m.vocabSize}, about ${params.toLocaleString("en-US")} parameters) trained by daotrain in DiLoCo rounds on clusters that contributors donated, and released by a vote of its DAO.

\`\`\`python
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained("path/to/this/directory")
tokenizer = AutoTokenizer.from_pretrained("path/to/this/directory")
\`\`\`

Token ids are UTF-8 byte values (the trainer's byte-level tokenizer): any text round-trips.

## Provenance (on chain ${facts.chainId}, CheckpointRegistry ${facts.checkpointRegistry})

- run id: \`${runId}\` (sha256 of the run spec's canonical JSON)
- run spec: \`${spec.name}\`, ${spec.rounds} rounds of ${spec.innerSteps} inner steps, ${spec.replicasPerRound} replicas per round, seed ${spec.seed}
- dataset root: \`${facts.dataset.root}\` (${facts.dataset.uri}), license: ${facts.dataset.license}
- released round: ${round}, checkpoint root \`${released.root}\`, release transaction \`${facts.releaseTx}\`

${table([
  ["round", "loss", "held-out loss", "checkpoint root", "commit transaction"],
  ["---", "---", "---", "---", "---"],
  ...facts.rounds.map((r) => [
    String(r.round),
    r.loss.toFixed(4),
    r.valLoss.toFixed(4),
    `\`${r.root}\``,
    `\`${r.commitTx}\``,
  ]),
])}

## What covers each file

${table([
  ["file", "covered by"],
  ["---", "---"],
  [
    `${RELEASE_FILES.weights}, ${RELEASE_FILES.momentum}`,
    "the checkpoint root on-chain: the checkpoint's shards, rebuilt from these two files and the headers in release.json, hash to it",
  ],
  [
    `${RELEASE_FILES.config}, ${RELEASE_FILES.generation}, ${RELEASE_FILES.tokenizer}, ${RELEASE_FILES.tokenizerConfig}`,
    "the run id on-chain: recomputed from the run spec, whose sha256 is the run id",
  ],
  [RELEASE_FILES.card, "the chain's records of the run: recomputed from them and the run spec"],
  [RELEASE_MANIFEST_FILE, "lists every file's sha256; checked against the recomputations above"],
])}

## Verify a copy

\`\`\`sh
daotrain verify <this directory> --run ${runId} --round ${round}
\`\`\`

checks every file against the chain as the table above says (exit 0 verified; 4 root mismatch, 5 a file corrupt or missing, 6 release.json invalid). \`daotrain download ${runId} --round ${round}\` fetches and verifies in one step.
`;
}
