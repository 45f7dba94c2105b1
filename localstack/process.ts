import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { createServer } from "node:net";
import { constants } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Child processes of the harness. Each runs in its own process group so that stopping it also
 * stops what it spawned, and every one still alive when the test process exits is killed: a
 * crashed suite leaves nothing behind.
 */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the exit code (or null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** The last lines the process wrote to stdout and stderr, for error messages. */
  recentOutput(): string;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartProcessOptions {
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Also append all output to this file (kept for post-mortems). */
  logFile?: string;
}

const alive = new Set<ChildProcess>();
const killAll = () => {
  for (const child of alive) killGroup(child, "SIGKILL");
};
process.once("exit", killAll);
// A signal ends Node without running "exit" handlers, which would orphan every child. Where
// nothing else in the process handles the signal, the children go first and the process then ends
// as the signal would have ended it; where something does (the demo stops its stack in order on
// Ctrl-C), that handler owns the shutdown and "exit" catches whatever it leaves.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (process.listenerCount(signal) > 1) return;
    killAll();
    process.exit(128 + (constants.signals[signal] ?? 0));
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone: nothing to stop.
  }
}

export class ProcessStartError extends Error {
  override readonly name = "ProcessStartError";
}

export function startProcess(options: StartProcessOptions): ManagedProcess {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined)
    throw new ProcessStartError(`${options.name}: could not spawn ${options.command}`);
  alive.add(child);
  const tail: string[] = [];
  const log = options.logFile ? createWriteStream(options.logFile, { flags: "a" }) : undefined;
  const collect = (chunk: Buffer) => {
    log?.write(chunk);
    tail.push(...chunk.toString("utf8").split("\n"));
    if (tail.length > 200) tail.splice(0, tail.length - 200);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      alive.delete(child);
      log?.end();
      resolve(code);
    });
    child.once("error", () => {
      alive.delete(child);
      resolve(null);
    });
  });
  return {
    name: options.name,
    pid: child.pid,
    exited,
    recentOutput: () => tail.slice(-40).join("\n"),
    async stop(graceMs = 5_000) {
      killGroup(child, "SIGTERM");
      const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!done) {
        killGroup(child, "SIGKILL");
        await exited;
      }
    },
  };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("freePort: no port assigned"));
      });
    });
  });
}

/**
 * Polls `probe` until it returns a value other than undefined. Fails early, with the process's
 * own last words, when the process it waits for has exited.
 */
export async function waitUntilReady<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; process?: ManagedProcess },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let exitCode: number | null | undefined;
  void options.process?.exited.then((code) => {
    exitCode = code;
  });
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new ProcessStartError(
        `${what} exited (code ${exitCode}) before it was ready:\n${options.process?.recentOutput()}`,
      );
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(options.intervalMs ?? 200);
  }
  const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  const output = options.process ? `\n${options.process.recentOutput()}` : "";
  throw new ProcessStartError(`${what} was not ready within ${options.timeoutMs} ms${reason}${output}`);
}

/** Finds a bootstrapped tool on PATH, or says how to get it. */
export async function requireTool(name: string): Promise<string> {
  const { execFile } = await import("node:child_process");
  return await new Promise((resolve, reject) => {
    execFile("sh", ["-c", `command -v ${name}`], (error, stdout) => {
      if (error || !stdout.trim()) {
        reject(
          new ProcessStartError(
            `${name} is not on PATH: run bootstrap/bootstrap.sh and source scripts/env.sh (or use scripts/demo.sh)`,
          ),
        );
      } else resolve(stdout.trim());
    });
  });
}
