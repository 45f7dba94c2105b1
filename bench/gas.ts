// Gas of daotrain's hot on-chain paths on anvil, beside a plain ERC-20 transfer measured in the
// same run (OSx's ERC20Mock: OpenZeppelin ERC20, fresh recipient).
//
//   node bench/gas.ts
//
// Needs `source scripts/env.sh` (anvil on PATH). Deploys the local DAO once (three members,
// TokenVoting v1.0.0 over OSx 1.4), ten admitted clusters with distinct owners and one funded run.
import { ERC20Mock__factory } from "@aragon/osx-ethers";
import { type Hex, parseEventLogs } from "viem";
import { checkpointRegistryAbi } from "../contracts/abi/index.ts";
import { deploy, type Governance, send } from "../governance/chain.ts";
import { increaseTime } from "../governance/localChain.ts";
import {
  approveDatasetProposal,
  approveRunProposal,
  clusterProposal,
  releaseCheckpointProposal,
} from "../governance/proposals.ts";
import { escrowFor } from "../governance/reads.ts";
import { execute, propose, vote } from "../governance/voting.ts";
import { commitCheckpoint, failRun, recordCompute, registerCluster } from "../governance/writes.ts";
import { id, startDaoFixture, TOKEN } from "../tests/governance/fixture.ts";

const CONTRIBUTORS = 10;

async function gasOf(governance: Governance, txHash: Hex): Promise<bigint> {
  return (await governance.publicClient.getTransactionReceipt({ hash: txHash })).gasUsed;
}

async function plainTransferGas(governance: Governance): Promise<bigint> {
  const erc20 = { abi: ERC20Mock__factory.abi, bytecode: ERC20Mock__factory.bytecode as Hex };
  const token = await deploy(governance, { name: "ERC20Mock", ...erc20, args: ["Baseline", "BASE"] });
  const holder = governance.wallet!.account.address;
  await send(governance, {
    address: token,
    abi: erc20.abi,
    functionName: "setBalance",
    args: [holder, 10n * TOKEN],
  });
  const receipt = await send(governance, {
    address: token,
    abi: erc20.abi,
    functionName: "transfer",
    args: ["0x000000000000000000000000000000000000dEaD", TOKEN],
  });
  return receipt.gasUsed;
}

const dao = await startDaoFixture();
try {
  const { deployment, members, operator } = dao;
  const [alice, bob] = members;
  const owners = dao.others.slice(0, CONTRIBUTORS);
  const clusters = owners.map((_, i) => id(`bench cluster ${i}`));
  for (const [i, owner] of owners.entries()) {
    await registerCluster(owner, {
      clusterId: clusters[i]!,
      gpuCapacity: 8,
      gpuProduct: "H100",
      metadata: "",
    });
  }
  const runId = id("bench run");
  const datasetRoot = id("bench dataset");
  const run = {
    runId,
    datasetRoot,
    gpuSecondsBudget: 1000n * 3600n,
    rewardPerGpuHour: TOKEN / 10n,
    specUri: "file:///bench",
  };
  const escrow = await escrowFor(alice, run.gpuSecondsBudget, run.rewardPerGpuHour);
  await dao.pass({
    title: "bench setup",
    summary: "",
    actions: [
      ...approveDatasetProposal(deployment.contracts, {
        root: datasetRoot,
        uri: "file:///d",
        license: "CC0-1.0",
      }).actions,
      ...clusters.flatMap((c) => clusterProposal(deployment.contracts, "admit", c).actions),
      ...approveRunProposal(deployment, run, escrow).actions,
    ],
  });

  const metrics = { loss: 3.1, valLoss: 3.2, tokens: 65_536n, steps: 100n };
  const committed = await commitCheckpoint(operator, {
    runId,
    round: 0n,
    root: id("bench root 0"),
    manifestUri: "s3://bench/run/0/manifest.json",
    metrics,
  });
  if (committed.outcome !== "committed") throw new Error("bench: round 0 was committed before");
  const recorded = await recordCompute(
    operator,
    runId,
    0n,
    clusters.map((clusterId, i) => ({ clusterId, gpuSeconds: 3600n + BigInt(i) })),
  );

  const { proposalId, txHash: proposeTx } = await propose(
    alice,
    releaseCheckpointProposal(deployment.contracts, runId, 0n),
  );
  const firstVote = await vote(alice, proposalId, "yes");
  const secondVote = await vote(bob, proposalId, "yes");
  await increaseTime(alice, deployment.dao.voting.minDurationSeconds);
  const executeTx = await execute(alice, proposalId);
  const executeReceipt = await alice.publicClient.getTransactionReceipt({ hash: executeTx });
  if (
    parseEventLogs({ abi: checkpointRegistryAbi, eventName: "CheckpointReleased", logs: executeReceipt.logs })
      .length !== 1
  ) {
    throw new Error("bench: executing the release emitted no CheckpointReleased");
  }

  // A run that misses its quorum is closed by the operator, refunding the unspent escrow.
  const failed = await failRun(operator, runId, "round 1: 1 replica(s) passed validation, the run needs 2");

  const baseline = await plainTransferGas(alice);
  const rows: Array<[string, bigint]> = [
    ["commitCheckpoint (operator)", committed.gasUsed],
    [`recordCompute, ${CONTRIBUTORS} contributors (operator)`, recorded.gasUsed],
    ["createProposal: release checkpoint", await gasOf(alice, proposeTx)],
    ["vote yes (first vote)", await gasOf(alice, firstVote)],
    ["vote yes (second vote)", await gasOf(bob, secondVote)],
    ["execute: release checkpoint", executeReceipt.gasUsed],
    ["failRun with its reason, refunding (operator)", failed.gasUsed],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const line = (name: string, gas: string, base: string, ratio: string) =>
    `${name.padEnd(width)}  ${gas.padStart(9)}  ${base.padStart(22)}  ${ratio.padStart(6)}`;
  console.log(line("operation", "gas", "ERC-20 transfer (base)", "ratio"));
  for (const [name, gas] of rows) {
    console.log(
      line(name, gas.toString(), baseline.toString(), `${(Number(gas) / Number(baseline)).toFixed(2)}×`),
    );
  }
  console.log(
    `\nper contributor in recordCompute: ${(recorded.gasUsed / BigInt(CONTRIBUTORS)).toString()} gas (includes the 21000 base once)`,
  );
} finally {
  await dao.stop();
}
