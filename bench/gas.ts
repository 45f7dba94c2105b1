// Gas of daotrain's hot on-chain paths on anvil, beside a plain ERC-20 transfer measured in the
// same run (OSx's ERC20Mock: OpenZeppelin ERC20, fresh recipient).
//
//   node bench/gas.ts
//
// Needs `source scripts/env.sh` (anvil on PATH). Deploys the local DAO once (three members,
// TokenVoting v1.0.0 over OSx 1.4), ten admitted clusters with distinct owners, two verifiers, an
// attestation quorum of two and one funded run.
import { ERC20Mock__factory } from "@aragon/osx-ethers";
import { type Hex, parseEventLogs } from "viem";
import { checkpointRegistryAbi } from "../contracts/abi/index.ts";
import { deploy, type Governance, send } from "../governance/chain.ts";
import { increaseTime } from "../governance/localChain.ts";
import {
  admitClusterProposal,
  approveDatasetProposal,
  approveRunProposal,
  attestationQuorumProposal,
  grantVerifierProposal,
  releaseCheckpointProposal,
} from "../governance/proposals.ts";
import { escrowFor } from "../governance/reads.ts";
import { execute, propose, vote } from "../governance/voting.ts";
import { attestRound, commitRound, failRun, registerCluster } from "../governance/writes.ts";
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
  const owners = dao.others.slice(0, CONTRIBUTORS + 1);
  const verifiers = dao.others.slice(CONTRIBUTORS + 1, CONTRIBUTORS + 3);
  const clusters = owners.map((_, i) => id(`bench cluster ${i}`));
  for (const [i, owner] of owners.entries()) {
    await registerCluster(owner, {
      clusterId: clusters[i]!,
      gpuCapacity: 8,
      gpuProduct: "H100",
      metadata: "",
    });
  }
  const admission = (i: number) =>
    admitClusterProposal(deployment.contracts, {
      clusterId: clusters[i]!,
      owner: owners[i]!.wallet!.account.address,
      gpuCapacity: 8,
    });
  const runId = id("bench run");
  const datasetRoot = id("bench dataset");
  const run = {
    runId,
    datasetRoot,
    gpuSecondsBudget: 1000n * 3600n,
    rewardPerGpuHour: TOKEN / 10n,
    limits: { rounds: 3, replicasPerRound: CONTRIBUTORS, gpusPerReplica: 1, roundDeadlineSeconds: 7200 },
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
      ...clusters.slice(0, CONTRIBUTORS).flatMap((_, i) => admission(i).actions),
      ...approveRunProposal(deployment, run, escrow).actions,
      ...verifiers.flatMap((v) => grantVerifierProposal(deployment, v.wallet!.account.address).actions),
      ...attestationQuorumProposal(deployment.contracts, verifiers.length).actions,
    ],
  });
  // One admission on its own: the DAO's execute of a proposal with the one admitCluster action.
  const admitted = await dao.pass(admission(CONTRIBUTORS));

  const metrics = { loss: 3.1, valLoss: 3.2, tokens: 65_536n, steps: 100n };
  const root = id("bench root 1");
  const committed = await commitRound(operator, {
    runId,
    round: 1n,
    root,
    manifestUri: "s3://bench/run/1/manifest.json",
    recordHash: id("bench record 1"),
    metrics,
    records: clusters
      .slice(0, CONTRIBUTORS)
      .map((clusterId, i) => ({ clusterId, gpuSeconds: 3600n + BigInt(i) })),
  });
  if (committed.outcome !== "committed") throw new Error("bench: round 1 was committed before");
  const attestations = [];
  for (const verifier of verifiers)
    attestations.push(await attestRound(verifier, { runId, round: 1n, root }));

  const { proposalId, txHash: proposeTx } = await propose(
    alice,
    releaseCheckpointProposal(deployment.contracts, runId, 1n),
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
    [`commitRound: root + record + ${CONTRIBUTORS} contributors paid (operator)`, committed.gasUsed],
    ["attestRound, first verifier", attestations[0]!.gasUsed],
    ["attestRound, second verifier", attestations[1]!.gasUsed],
    ["createProposal: release checkpoint", await gasOf(alice, proposeTx)],
    ["vote yes (first vote)", await gasOf(alice, firstVote)],
    ["vote yes (second vote)", await gasOf(bob, secondVote)],
    [`execute: release checkpoint with ${verifiers.length} attestations`, executeReceipt.gasUsed],
    ["execute: admit one cluster", await gasOf(alice, admitted.executeTx)],
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
    `\nper contributor in commitRound: ${(committed.gasUsed / BigInt(CONTRIBUTORS)).toString()} gas (includes the 21000 base and the root once)`,
  );
} finally {
  await dao.stop();
}
