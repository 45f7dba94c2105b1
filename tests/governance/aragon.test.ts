import { type AbiParameter, toEventSelector, toFunctionSelector } from "viem";
import { describe, expect, it } from "vitest";
import { tokenVotingAbi, tokenVotingPackageAbi } from "../../governance/aragon.ts";

// The typed TokenVoting ABI is written by hand; this checks it against the published package.

type Entry = {
  type: string;
  name?: string;
  inputs?: readonly AbiParameter[];
  outputs?: readonly AbiParameter[];
};

const shape = (params: readonly AbiParameter[] = []): unknown =>
  params.map((p) => ("components" in p && p.components ? [p.type, shape(p.components)] : p.type));

const key = (entry: Entry): string =>
  entry.type === "event"
    ? toEventSelector(entry as never)
    : `${entry.type}:${toFunctionSelector(entry as never)}:${JSON.stringify(shape(entry.outputs))}`;

describe("TokenVoting v1.0.0 typed ABI", () => {
  it("matches @aragon/osx-ethers@1.0.0 in every function, event and error it declares", () => {
    const published = new Set((tokenVotingPackageAbi as readonly Entry[]).filter((e) => e.name).map(key));
    const declared = (tokenVotingAbi as readonly Entry[]).map((e) => [e.name, key(e)] as const);
    expect(declared.filter(([, k]) => !published.has(k)).map(([name]) => name)).toEqual([]);
  });
});
