/**
 * Errors a caller can act on. Each message says what went wrong and what to do next; callers
 * branch on the class, never on the text.
 */

export class DeploymentNotFoundError extends Error {
  override readonly name = "DeploymentNotFoundError";
  readonly path: string;
  constructor(path: string) {
    super(
      `no daotrain deployment file at ${path}; deploy a local DAO with \`daotrain dao deploy\` or point DAOTRAIN_DEPLOYMENT (--deployment) at an existing one`,
    );
    this.path = path;
  }
}

export class ChainMismatchError extends Error {
  override readonly name = "ChainMismatchError";
  constructor(rpcUrl: string, expected: number, actual: number) {
    super(
      `the chain at ${rpcUrl} has id ${actual} but the deployment file is for chain ${expected}; pass the RPC URL of the chain the DAO was deployed to (--rpc)`,
    );
  }
}

export class WalletRequiredError extends Error {
  override readonly name = "WalletRequiredError";
  constructor(action: string) {
    super(`${action} sends a transaction and needs a signing key; pass --keystore FILE or set DAOTRAIN_KEY`);
  }
}

export class ProposalNotFoundError extends Error {
  override readonly name = "ProposalNotFoundError";
  readonly proposalId: bigint;
  constructor(proposalId: bigint, count: bigint) {
    super(
      `proposal ${proposalId} does not exist (the DAO has ${count} proposals, numbered from 0); list them with \`daotrain proposals\``,
    );
    this.proposalId = proposalId;
  }
}

export class CannotVoteError extends Error {
  override readonly name = "CannotVoteError";
  readonly proposalId: bigint;
  constructor(proposalId: bigint, voter: string, reason: string) {
    super(`${voter} cannot vote on proposal ${proposalId}: ${reason}`);
    this.proposalId = proposalId;
  }
}

export class ProposalNotExecutableError extends Error {
  override readonly name = "ProposalNotExecutableError";
  readonly proposalId: bigint;
  readonly state: string;
  constructor(proposalId: bigint, state: string, hint: string) {
    super(`proposal ${proposalId} cannot be executed: it is ${state}; ${hint}`);
    this.proposalId = proposalId;
    this.state = state;
  }
}

/** A daotrain or OSx contract reverted with one of its named errors. */
export class ContractRevertError extends Error {
  override readonly name = "ContractRevertError";
  readonly errorName: string;
  readonly args: readonly unknown[];
  constructor(action: string, errorName: string, args: readonly unknown[], hint: string) {
    super(`${action} reverted with ${errorName}(${args.map(String).join(", ")})${hint ? `: ${hint}` : ""}`);
    this.errorName = errorName;
    this.args = args;
  }
}

export class LocalChainRequiredError extends Error {
  override readonly name = "LocalChainRequiredError";
  constructor(action: string, rpcUrl: string) {
    super(
      `${action} needs a local development chain (anvil's anvil_* methods) but ${rpcUrl} does not offer them; start one with \`daotrain up\` or anvil`,
    );
  }
}
