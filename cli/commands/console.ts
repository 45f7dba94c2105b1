import { type Command, InvalidArgumentError } from "commander";
import { ConsoleConfigError, openConsole } from "../../console/server/open.ts";
import { CliError, ExitCode } from "../program.ts";

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError("must be a port, 0–65535");
  return n;
}

/** `daotrain console`: the members' web console and its read-only API, until Ctrl-C. */
export function register(program: Command): void {
  program
    .command("console")
    .description(
      "serve the members' web console: proposals in words with vote and execute from a browser wallet, runs, checkpoints, contributors, datasets (a read-only API; the browser signs with its own wallet)",
    )
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0: any free one)", port, 8780)
    .option("--rpc <url>", "chain RPC URL the console reads (default: the deployment's)")
    .option(
      "--public-rpc <url>",
      "chain RPC URL browsers use (env DAOTRAIN_CONSOLE_RPC_URL; default: --rpc when it is a loopback address)",
    )
    .option(
      "--deployment <file>",
      "daotrain deployment file (default: DAOTRAIN_DEPLOYMENT or .daotrain/deployment.json)",
    )
    .addHelpText(
      "after",
      "\nLive run status needs the orchestrator's Temporal and payload key: TEMPORAL_ADDRESS (and Temporal's\n" +
        "other client settings) and DAOTRAIN_CODEC_KEY. The key stays in this process; browsers get public data only.",
    )
    .action(
      async (options: {
        host: string;
        port: number;
        rpc?: string;
        publicRpc?: string;
        deployment?: string;
      }) => {
        const log = (line: string) => process.stderr.write(`${line}\n`);
        let server: Awaited<ReturnType<typeof openConsole>>;
        try {
          server = await openConsole({
            host: options.host,
            port: options.port,
            ...(options.rpc ? { rpcUrl: options.rpc } : {}),
            ...(options.publicRpc ? { browserRpcUrl: options.publicRpc } : {}),
            ...(options.deployment ? { deploymentFile: options.deployment } : {}),
            log,
          });
        } catch (error) {
          if (error instanceof ConsoleConfigError) throw new CliError(error.message, ExitCode.usage);
          throw error;
        }
        process.stdout.write(`daotrain console: ${server.url}\n`);
        await new Promise<void>((resolve) => {
          process.once("SIGINT", () => resolve());
          process.once("SIGTERM", () => resolve());
        });
        await server.stop();
      },
    );
}
