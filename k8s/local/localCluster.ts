import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type ClusterCapacity,
  type ComputeCluster,
  isTerminal,
  parseRoundJobSpec,
  QuotaExceededError,
  type ReplicaState,
  type RoundJobSpec,
  type RoundJobSpecInput,
  RoundNotFoundError,
  type RoundRef,
  type RoundStatus,
  roundName,
  type WatchOptions,
} from "../cluster.ts";
import { replicaEnvs } from "../roundJob.ts";

export interface LocalClusterOptions {
  /** Where each round's directory (spec, pids, exit codes, logs) lives. */
  workDir: string;
  name?: string;
  /** GPUs of this machine daotrain may use; replicas get `CUDA_VISIBLE_DEVICES` from them. */
  gpus?: number;
  gpuProduct?: string;
  /** Working directory of the trainer processes (the project root by default). */
  cwd?: string;
  /** Extra env for every replica (PATH and HOME are passed through). */
  env?: Record<string, string>;
  pollIntervalMs?: number;
}

/** How long a claimed replica may go without a process before it counts as lost. */
const UNSTARTED_GRACE_MS = 30_000;

interface ExitRecord {
  code: number | null;
  reason?: string;
}

/**
 * The embedded executor: each replica of a round is a local child process with the trainer
 * contract's env. Processes are detached and their pid, exit code and output are files under the
 * round's directory, so a restarted orchestrator reads the same round back, as it would from a
 * Kubernetes Job.
 */
export class LocalCluster implements ComputeCluster {
  readonly name: string;
  private readonly options: LocalClusterOptions;
  private readonly deadlines = new Map<string, NodeJS.Timeout>();

  constructor(options: LocalClusterOptions) {
    this.options = options;
    this.name = options.name ?? "local";
  }

  private dir(name: string): string {
    return join(this.options.workDir, name);
  }

  private file(name: string, replica: number, suffix: string): string {
    return join(this.dir(name), `replica-${replica}.${suffix}`);
  }

  async capacity(): Promise<ClusterCapacity> {
    const total = this.options.gpus ?? 0;
    const free = Math.max(0, total - (await this.gpusInUse()));
    return {
      freeGpus: free,
      freeGpusByProduct: total > 0 ? { [this.options.gpuProduct ?? "local"]: free } : {},
      quota: undefined,
    };
  }

  /** GPUs held by replicas still running, in every round directory. */
  private async gpusInUse(): Promise<number> {
    const rounds = await readdir(this.options.workDir).catch(() => [] as string[]);
    let used = 0;
    for (const name of rounds) {
      const spec = await this.readSpec(name).catch(() => undefined);
      if (!spec) continue;
      const states = await this.states(name, spec);
      used += states.filter((s) => s.state === "running").length * spec.gpusPerReplica;
    }
    return used;
  }

  private async readSpec(name: string): Promise<RoundJobSpec> {
    return parseRoundJobSpec(JSON.parse(await readFile(join(this.dir(name), "round.json"), "utf8")));
  }

  /**
   * Idempotent, and safe to retry after the launching process died half-way: the round's spec is
   * written once (its quota checked then), and each launch starts only the replicas it can claim
   * (an exclusive marker file written before the spawn), so no replica ever runs twice.
   */
  async launchRound(input: RoundJobSpecInput): Promise<RoundRef> {
    const spec = parseRoundJobSpec(input);
    const name = roundName(spec);
    const ref = { cluster: this.name, name };
    const specFile = join(this.dir(name), "round.json");
    if (!existsSync(specFile)) {
      const requested = spec.gpusPerReplica * spec.replicas.length;
      const free = (await this.capacity()).freeGpus;
      if (this.options.gpus !== undefined && requested > free) {
        throw new QuotaExceededError(`${this.name} GPUs`, requested, free);
      }
      await mkdir(this.dir(name), { recursive: true });
      // storeEnv is secret-valued: it lives in the processes' env only, never in a file here.
      const { storeEnv: _secret, ...persisted } = spec;
      await writeFile(`${specFile}.tmp`, JSON.stringify(persisted));
      await rename(`${specFile}.tmp`, specFile);
    }
    await mkdir(this.scratchDir(), { recursive: true });
    const envs = replicaEnvs(spec);
    spec.replicas.forEach((assignment, index) => {
      if (!this.claim(name, assignment.replica)) return;
      const devices = Array.from({ length: spec.gpusPerReplica }, (_, k) => index * spec.gpusPerReplica + k);
      this.startReplica(name, spec, assignment.replica, envs[index] ?? {}, devices);
    });
    return ref;
  }

  /** True when this launch may start the replica: nobody claimed it before. */
  private claim(name: string, replica: number): boolean {
    try {
      writeFileSync(this.file(name, replica, "claimed"), String(Date.now()), { flag: "wx" });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
  }

  private scratchDir(): string {
    return join(this.options.workDir, "tmp");
  }

  private startReplica(
    name: string,
    spec: RoundJobSpec,
    replica: number,
    env: Record<string, string>,
    gpus: number[],
  ) {
    const log = openSync(this.file(name, replica, "log"), "a");
    // The shell records the exit code even when this orchestrator process is gone by then, with
    // its own builtins only: the worker's image has a sh and no coreutils (no `mv`). The record is
    // one write of a few bytes; `replicaState` waits for it whole.
    const child = spawn(
      "/bin/sh",
      [
        "-c",
        '"$@"; code=$?; printf \'{"code":%d}\' "$code" > "$0"',
        this.file(name, replica, "exit"),
        ...spec.command,
      ],
      {
        cwd: this.options.cwd ?? process.cwd(),
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          // The executor's own temporary directory, as a pod has its emptyDir: what a trainer
          // stages stays with the executor instead of in the machine's /tmp.
          TMPDIR: this.scratchDir(),
          ...this.options.env,
          ...spec.storeEnv,
          ...env,
          ...(gpus.length > 0 ? { CUDA_VISIBLE_DEVICES: gpus.join(",") } : {}),
        },
        detached: true,
        stdio: ["ignore", log, log],
      },
    );
    closeSync(log);
    child.unref();
    writeFileSync(this.file(name, replica, "pid"), String(child.pid));
    const timer = setTimeout(() => {
      void this.expire(name, replica, child.pid, spec.activeDeadlineSeconds);
    }, spec.activeDeadlineSeconds * 1000);
    timer.unref();
    this.deadlines.set(`${name}/${replica}`, timer);
    child.once("exit", () => {
      clearTimeout(timer);
      this.deadlines.delete(`${name}/${replica}`);
    });
  }

  private async expire(name: string, replica: number, pid: number | undefined, seconds: number) {
    await this.record(name, replica, {
      code: null,
      reason: `DeadlineExceeded: still running after ${seconds} s`,
    });
    if (pid) killGroup(pid, "SIGKILL");
  }

  private async record(name: string, replica: number, exit: ExitRecord) {
    const file = this.file(name, replica, "exit");
    await writeFile(`${file}.tmp`, JSON.stringify(exit));
    await rename(`${file}.tmp`, file);
  }

  private async replicaState(name: string, replica: number): Promise<ReplicaState> {
    const exit = await readFile(this.file(name, replica, "exit"), "utf8").catch(() => undefined);
    if (exit !== undefined) {
      // Created but not yet written: the shell is recording the exit code this instant.
      if (!exit.endsWith("}")) return { replica, state: "running", node: "localhost" };
      const record = JSON.parse(exit) as ExitRecord;
      if (record.code === 0) {
        // The pid file is written as the process starts, the exit file as it ends.
        const [started, finished] = await Promise.all(
          ["pid", "exit"].map((kind) => stat(this.file(name, replica, kind)).then((s) => s.mtimeMs)),
        );
        return { replica, state: "succeeded", ran: { startedAtMs: started!, finishedAtMs: finished! } };
      }
      if (record.code === null) return { replica, state: "failed", reason: record.reason ?? "stopped" };
      return {
        replica,
        state: "failed",
        reason: `trainer exited with code ${record.code}`,
        exitCode: record.code,
      };
    }
    const pid = Number(await readFile(this.file(name, replica, "pid"), "utf8").catch(() => "0"));
    if (!pid) return await this.unstarted(name, replica);
    if (alive(pid)) return { replica, state: "running", node: "localhost" };
    // Re-read: the process may have exited between the two reads.
    if ((await readFile(this.file(name, replica, "exit"), "utf8").catch(() => undefined)) !== undefined)
      return await this.replicaState(name, replica);
    return {
      replica,
      state: "lost",
      reason: `process ${pid} vanished without an exit code (machine restarted or killed)`,
    };
  }

  /** Claimed but no pid: starting, or lost when the launcher died between claim and spawn. */
  private async unstarted(name: string, replica: number): Promise<ReplicaState> {
    const claimedAt = Number(await readFile(this.file(name, replica, "claimed"), "utf8").catch(() => "0"));
    if (claimedAt && Date.now() - claimedAt > UNSTARTED_GRACE_MS) {
      return { replica, state: "lost", reason: "the launcher died before the replica's process started" };
    }
    return { replica, state: "pending", reason: "starting" };
  }

  private async states(name: string, spec: RoundJobSpec): Promise<ReplicaState[]> {
    return await Promise.all(spec.replicas.map((r) => this.replicaState(name, r.replica)));
  }

  async roundStatus(ref: RoundRef): Promise<RoundStatus> {
    const spec = await this.readSpec(ref.name).catch(() => {
      throw new RoundNotFoundError(ref);
    });
    const replicas = await this.states(ref.name, spec);
    return { ref, replicas, done: replicas.every(isTerminal) };
  }

  async *watchRound(
    ref: RoundRef,
    options: WatchOptions = {},
  ): AsyncGenerator<RoundStatus, RoundStatus | undefined> {
    let last: string | undefined;
    let current: RoundStatus | undefined;
    while (!options.signal?.aborted) {
      current = await this.roundStatus(ref);
      const key = JSON.stringify(current.replicas);
      if (key !== last) {
        last = key;
        yield current;
      }
      if (current.done) return current;
      await sleep(this.options.pollIntervalMs ?? 250, undefined, { signal: options.signal }).catch(() => {});
    }
    return current;
  }

  async logs(ref: RoundRef, replica: number, options: { tailLines?: number } = {}): Promise<string> {
    await this.roundStatus(ref);
    const text = await readFile(this.file(ref.name, replica, "log"), "utf8").catch(() => "");
    if (!options.tailLines) return text;
    const lines = text.split("\n");
    const trailing = lines.at(-1) === "" ? lines.pop() : undefined;
    return [...lines.slice(-options.tailLines), ...(trailing === undefined ? [] : [""])].join("\n");
  }

  async cancelRound(ref: RoundRef): Promise<void> {
    const spec = await this.readSpec(ref.name).catch(() => undefined);
    if (!spec) return;
    await Promise.all(
      spec.replicas.map(async ({ replica }) => {
        clearTimeout(this.deadlines.get(`${ref.name}/${replica}`));
        const pid = Number(await readFile(this.file(ref.name, replica, "pid"), "utf8").catch(() => "0"));
        if (pid) await stopGroup(pid);
      }),
    );
    await rm(this.dir(ref.name), { recursive: true, force: true });
  }

  async cleanupRound(ref: RoundRef): Promise<void> {
    await this.cancelRound(ref);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** SIGTERM to the replica's process group, SIGKILL if it is still there after 3 s. */
async function stopGroup(pid: number): Promise<void> {
  killGroup(pid, "SIGTERM");
  for (let waited = 0; waited < 3_000 && alive(pid); waited += 100) await sleep(100);
  if (alive(pid)) killGroup(pid, "SIGKILL");
  for (let waited = 0; waited < 2_000 && alive(pid); waited += 50) await sleep(50);
}
