import { type AbiParameter, toEventSelector, toFunctionSelector } from "viem";
import { describe, expect, it } from "vitest";
import { daoAbi, tokenVotingPackageAbi } from "../../governance/aragon.ts";
import { daoPermissionsAbi, tokenVotingAbi } from "../../governance/osxAbi.ts";

// osxAbi.ts declares the Aragon ABIs daotrain calls by hand; this checks them against the packages.

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

const missing = (declared: readonly unknown[], published: readonly unknown[]) => {
  const keys = new Set((published as readonly Entry[]).filter((e) => e.name).map(key));
  return (declared as readonly Entry[]).filter((e) => !keys.has(key(e))).map((e) => e.name);
};

describe("hand-typed Aragon ABIs", () => {
  it("TokenVoting's match @aragon/osx-ethers@1.0.0 in every function, event and error declared", () => {
    expect(missing(tokenVotingAbi, tokenVotingPackageAbi)).toEqual([]);
  });

  it("the DAO's match @aragon/osx-ethers@1.4.0 in every function and error declared", () => {
    expect(missing(daoPermissionsAbi, daoAbi)).toEqual([]);
  });
});
