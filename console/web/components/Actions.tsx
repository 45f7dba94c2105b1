import type { ActionView, DISPUTE_STATES, ManifestSummary, SpecSummary } from "../../api.ts";
import { useConsoleConfig } from "../context.ts";
import { duration, gpuHours, short, tokens } from "../format.ts";

const disputeNote: Record<(typeof DISPUTE_STATES)[number], string> = {
  none: "",
  dismissed: "; a dispute of it was dismissed",
  open: "; a dispute holds the round until the DAO resolves it",
  upheld: "; the DAO upheld a dispute of it: it can never be released",
};

function Hash({ value }: { value: string }) {
  return (
    <code className="hash" title={value}>
      {short(value)}
    </code>
  );
}

function Manifest({ manifest }: { manifest: ManifestSummary }) {
  if (!manifest.readable) return <span className="warning">Shards unknown: {manifest.problem}.</span>;
  return (
    <span>
      {manifest.shards} shards ({manifest.trainShards} for training, {manifest.validationShards} held out),{" "}
      {manifest.tokens.toLocaleString("en-US")} tokens, verified against the root.
    </span>
  );
}

function Spec({ spec }: { spec: SpecSummary }) {
  const { token } = useConsoleConfig();
  if (!spec.readable) return <p className="warning">The run spec cannot be shown: {spec.problem}.</p>;
  return (
    <>
      {spec.matchesRunId ? (
        <p className="ok">The spec hashes to this run id, so it is exactly what the DAO approves.</p>
      ) : (
        <p className="warning">
          Warning: this spec does not hash to the run id the proposal approves; the orchestrator will refuse
          it.
        </p>
      )}
      <dl className="facts">
        <dt>Name</dt>
        <dd>{spec.name}</dd>
        <dt>Model</dt>
        <dd>{spec.model}</dd>
        <dt>Rounds</dt>
        <dd>
          {spec.rounds} rounds of {spec.innerSteps} inner steps
        </dd>
        <dt>Replicas</dt>
        <dd>
          {spec.replicasPerRound} per round (at least {spec.minReplicas}), {spec.gpusPerReplica} GPU(s) each
        </dd>
        <dt>Budget</dt>
        <dd>
          {spec.gpuHourBudget} GPU-hours at {tokens(spec.rewardPerGpuHour, token.symbol, token.decimals)} per
          GPU-hour
        </dd>
        <dt>Trainer image</dt>
        <dd>
          <code>{spec.image}</code>
        </dd>
      </dl>
    </>
  );
}

/** One action of a proposal in words: what executing it will do. */
export function ActionDescription({ action }: { action: ActionView }) {
  const { token } = useConsoleConfig();
  const amount = (units: string) => tokens(units, token.symbol, token.decimals);
  switch (action.kind) {
    case "approveDataset":
      return (
        <>
          <h3>
            Approve dataset <Hash value={action.root} />
          </h3>
          <p>
            License: <strong>{action.license}</strong>. <Manifest manifest={action.manifest} /> Location:{" "}
            <code>{action.uri}</code>.
          </p>
        </>
      );
    case "revokeDataset":
      return (
        <h3>
          Revoke dataset <Hash value={action.root} />: no new run may train on it.
        </h3>
      );
    case "cluster": {
      const verb = { admit: "Admit", suspend: "Suspend", remove: "Remove" }[action.decision];
      const c = action.cluster;
      return (
        <>
          <h3>
            {verb} cluster {c.registered ? <strong>{c.name}</strong> : null} <Hash value={action.clusterId} />
          </h3>
          {c.registered ? (
            <p>
              Owner <Hash value={c.owner} />, {c.gpuCapacity} × {c.gpuProduct}; now {c.status}.
              {action.decision === "admit" ? " Once admitted it may train rounds and earn rewards." : ""}
            </p>
          ) : null}
          {action.owner && c.registered && action.owner.toLowerCase() !== c.owner.toLowerCase() ? (
            <p className="warning">
              The proposal admits it for <Hash value={action.owner} />, not its registered owner: executing
              will revert.
            </p>
          ) : null}
          {c.registered ? null : (
            <p className="warning">No cluster is registered under this id: executing will revert.</p>
          )}
        </>
      );
    }
    case "tokenAllowance":
      return (
        <h3>
          Let {action.spenderName} take up to {amount(action.amount)} from the DAO treasury
        </h3>
      );
    case "approveRun":
      return (
        <>
          <h3>
            Fund run {action.spec.readable ? <strong>{action.spec.name}</strong> : null}{" "}
            <Hash value={action.runId} />
          </h3>
          <p>
            Moves <strong>{amount(action.escrow)}</strong> from the treasury into the run's escrow: a budget
            of <strong>{gpuHours(action.gpuSecondsBudget)}</strong> at{" "}
            <strong>{amount(action.rewardPerGpuHour)} per GPU-hour</strong>, paid to contributors for verified
            compute only; what is not credited returns to the treasury when the run closes.
          </p>
          <p>
            Dataset <Hash value={action.datasetRoot} />{" "}
            {action.datasetApproved ? (
              "(approved by the DAO)."
            ) : (
              <span className="warning">is not approved: executing will revert.</span>
            )}{" "}
            Spec: <code>{action.specUri}</code>.
          </p>
          <p>
            The operator may commit rounds 1 to {action.limits.rounds}, each crediting at most{" "}
            {action.limits.replicasPerRound} replicas × {action.limits.gpusPerReplica} GPUs ×{" "}
            {duration(action.limits.roundDeadlineSeconds)}.
          </p>
          <Spec spec={action.spec} />
        </>
      );
    case "cancelRun":
      return (
        <h3>
          Cancel run <Hash value={action.runId} />: what no contributor was credited returns to the treasury
        </h3>
      );
    case "releaseCheckpoint": {
      const a = action.attestations;
      return (
        <>
          <h3>
            Release round {action.round} of run <Hash value={action.runId} />
          </h3>
          {action.checkpoint.committed ? (
            <p>
              Root <Hash value={action.checkpoint.root} />, held-out loss{" "}
              <strong>{action.checkpoint.valLoss.toFixed(4)}</strong> (train loss{" "}
              {action.checkpoint.loss.toFixed(4)}).
            </p>
          ) : (
            <p className="warning">This round has no committed checkpoint: executing will revert.</p>
          )}
          <p>
            Attestations:{" "}
            {a.tracked
              ? `${a.count} of the ${a.quorum} verifier attestations needed${disputeNote[a.dispute]}.`
              : "none yet: the round has no commit for verifiers to attest."}
          </p>
        </>
      );
    }
    case "attestationQuorum":
      return (
        <h3>
          Require {action.quorum} verifier attestation{action.quorum === 1 ? "" : "s"} before a round can be
          released
        </h3>
      );
    case "resolveDispute":
      return (
        <h3>
          {action.upheld
            ? `Uphold the dispute of round ${action.round}: it can never be released`
            : `Dismiss the dispute of round ${action.round}: it may be released again`}{" "}
          (run <Hash value={action.runId} />)
        </h3>
      );
    case "permission":
      return (
        <h3>
          {action.change === "grant" ? "Grant" : "Revoke"} the {action.permission} permission on{" "}
          {action.whereName} {action.change === "grant" ? "to" : "from"} {action.whoName}
        </h3>
      );
    case "unknown":
      return (
        <>
          <h3 className="warning">
            An action the console cannot read: a call to <Hash value={action.to} /> (selector{" "}
            <code>{action.selector}</code>)
          </h3>
          <p className="warning">Review it elsewhere before voting yes: {action.reason}.</p>
        </>
      );
  }
}
