import { type Command, InvalidArgumentError } from "commander";
import { type Address, parseUnits } from "viem";
import { deploymentPath } from "../../governance/deployment.ts";
import { increaseTime } from "../../governance/localChain.ts";
import { proposalCount } from "../../governance/proposalReads.ts";
import { tokenBalance } from "../../governance/reads.ts";
import { CliError, ExitCode } from "../program.ts";
import {
  address,
  type ChainOptions,
  connectFrom,
  printJson,
  tokens,
  wholeNumber,
  withChainOptions,
} from "./governanceOptions.ts";
import { type SignerOptions, signingKey, withSignerOptions } from "./signer.ts";

interface Member {
  address: Address;
  votingPower: bigint;
}

function member(value: string, previous: Member[] = []): Member[] {
  const [who, amount] = value.split("=");
  if (!who || !amount || !/^[0-9]+(\.[0-9]+)?$/.test(amount)) {
    throw new InvalidArgumentError("must be <address>=<tokens>, e.g. 0xabc…=100");
  }
  return [...previous, { address: address(who), votingPower: parseUnits(amount, 18) }];
}

function amountOfTokens(value: string): bigint {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value))
    throw new InvalidArgumentError("must be a number of tokens, e.g. 300");
  return parseUnits(value, 18);
}

export function register(program: Command): void {
  const dao = program.command("dao").description("the DAO: deploy a local one, show the current one");

  withSignerOptions(
    dao
      .command("deploy")
      .description(
        "deploy Aragon OSx, TokenVoting, the governance token, a DAO and daotrain's registries on a local chain (anvil), and bind them by the DAO's first proposal",
      )
      .requiredOption(
        "--member <address=tokens>",
        "a member and its voting tokens (repeat for each member)",
        member,
      )
      .requiredOption(
        "--operator <address>",
        "the orchestrator's address (gets OPERATOR_PERMISSION)",
        address,
      )
      .option(
        "--treasury <tokens>",
        "tokens minted for the DAO treasury (default: as many as all members hold)",
        amountOfTokens,
      )
      .option("--rpc <url>", "local chain RPC URL", "http://127.0.0.1:8545")
      .option(
        "--deployment <file>",
        "where to write the deployment (default: DAOTRAIN_DEPLOYMENT or .daotrain/deployment.json)",
      )
      .option("--json", "print the deployment as JSON"),
  ).action(
    async (
      options: SignerOptions & {
        member: Member[];
        operator: Address;
        treasury?: bigint;
        rpc: string;
        deployment?: string;
        json?: boolean;
      },
    ) => {
      const key = await signingKey(options);
      if (!key)
        throw new CliError(
          "dao deploy needs the deployer's key: pass --keystore FILE or set DAOTRAIN_KEY",
          ExitCode.usage,
        );
      const file = deploymentPath(options.deployment);
      // Loaded here: deploying needs Aragon's contract artifacts, which no other verb does.
      const { deployLocalDao } = await import("../../governance/deploy.ts");
      const deployment = await deployLocalDao({
        rpcUrl: options.rpc,
        deployerKey: key,
        members: options.member,
        operator: options.operator,
        ...(options.treasury === undefined ? {} : { treasury: options.treasury }),
        deploymentFile: file,
      });
      if (options.json) return printJson(deployment);
      process.stdout.write(
        `${[
          `DAO ${deployment.dao.address} (${deployment.dao.ensName}) with TokenVoting ${deployment.dao.tokenVoting}`,
          `token ${deployment.dao.token}; operator ${deployment.operator}`,
          `votes last ${deployment.dao.voting.minDurationSeconds / 3600} h; support > ${deployment.dao.voting.supportThreshold / 10_000}%, participation ≥ ${deployment.dao.voting.minParticipation / 10_000}%`,
          `wrote ${file}`,
        ].join("\n")}\n`,
      );
    },
  );

  withChainOptions(
    dao.command("info").description("show the DAO, its token, treasury, voting settings and registries"),
    {
      write: false,
    },
  ).action(async (options: ChainOptions) => {
    const governance = await connectFrom(options);
    const { deployment } = governance;
    const [treasury, proposals] = await Promise.all([
      tokenBalance(governance, deployment.dao.address),
      proposalCount(governance),
    ]);
    const info = { ...deployment, rpcUrl: governance.rpcUrl, treasury, proposals };
    if (options.json) return printJson(info);
    const { voting } = deployment.dao;
    process.stdout.write(
      `${[
        `DAO         ${deployment.dao.address} (${deployment.dao.ensName}) on chain ${deployment.chainId}`,
        `TokenVoting ${deployment.dao.tokenVoting}: ${voting.votingMode}, support > ${voting.supportThreshold / 10_000}%, participation ≥ ${voting.minParticipation / 10_000}%, ${voting.minDurationSeconds} s minimum`,
        `token       ${deployment.dao.token}; treasury ${tokens(treasury)}`,
        `proposals   ${proposals}`,
        `operator    ${deployment.operator}`,
        ...Object.entries(deployment.contracts).map(([name, at]) => `${name.padEnd(19)}${at}`),
      ].join("\n")}\n`,
    );
  });

  withChainOptions(
    dao
      .command("advance-time")
      .argument("<seconds>", "how far to move the clock", wholeNumber)
      .description("local chains only: move the chain's clock forward so a vote can end"),
    { write: false },
  ).action(async (seconds: bigint, options: ChainOptions) => {
    const governance = await connectFrom(options);
    await increaseTime(governance, Number(seconds));
    const block = await governance.publicClient.getBlock({ blockTag: "latest" });
    if (options.json) return printJson({ blockNumber: block.number, timestamp: block.timestamp });
    process.stdout.write(`chain time is now ${new Date(Number(block.timestamp) * 1000).toISOString()}\n`);
  });
}
