import { serveStatic } from "@hono/node-server/serve-static";
import { Hono } from "hono";
import { compress } from "hono/compress";
import { secureHeaders } from "hono/secure-headers";
import type { Hex } from "viem";
import type { z } from "zod";
import { Bytes32 } from "../../spec/runSpec.ts";
import {
  API_PATHS,
  CheckpointList,
  ConsoleConfig,
  ContributorList,
  DatasetList,
  ProposalList,
  RunDetail,
  RunList,
} from "../api.ts";
import type { ConsoleSources } from "./sources.ts";
import { checkpointsView } from "./views/checkpoints.ts";
import { configView } from "./views/config.ts";
import { contributorsView } from "./views/contributors.ts";
import { datasetsView } from "./views/datasets.ts";
import { proposalsView } from "./views/proposals.ts";
import { runsView, runView } from "./views/runs.ts";

export interface ConsoleAppOptions {
  /** The built web app (ensureWebBuild). */
  webDir: string;
  /** The RPC URL browsers use: shown to every visitor and allowed by the page's CSP. */
  browserRpcUrl: string;
  /** Where the server reports what it could not answer (never sent to the browser). */
  logError?: (error: unknown) => void;
}

/** An answer failed: the browser gets one sentence; the cause (which may name a URL) stays here. */
class ApiFailure extends Error {
  override readonly name = "ApiFailure";
  readonly status: 400 | 404;
  constructor(status: 400 | 404, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * The console: a read-only JSON API over the chain and the orchestrator's Temporal, and the web
 * app. Only GET and HEAD are answered; every answer is parsed with its public schema before it
 * leaves, so it carries the fields the schema names and nothing else.
 */
export function consoleApp(sources: ConsoleSources, options: ConsoleAppOptions): Hono {
  const app = new Hono();
  const rpcOrigin = new URL(options.browserRpcUrl).origin;
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'", rpcOrigin],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
      },
      referrerPolicy: "no-referrer",
    }),
  );
  app.use("*", async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      c.header("Allow", "GET, HEAD");
      return c.json({ error: "The console is read-only: it answers GET requests only." }, 405);
    }
    await next();
  });
  app.use("*", compress());

  const answer =
    <S extends z.ZodType>(schema: S, view: (params: Record<string, string>) => Promise<z.input<S>>) =>
    async (c: { req: { param(): Record<string, string> }; json(body: unknown): Response }) =>
      c.json(schema.parse(await view(c.req.param())));

  const liveStatus = sources.temporal !== undefined;
  app.get(
    API_PATHS.config,
    answer(ConsoleConfig, () => configView(sources, { browserRpcUrl: options.browserRpcUrl, liveStatus })),
  );
  app.get(
    API_PATHS.proposals,
    answer(ProposalList, () => proposalsView(sources)),
  );
  app.get(
    API_PATHS.runs,
    answer(RunList, () => runsView(sources)),
  );
  app.get(
    API_PATHS.run(":runId"),
    answer(RunDetail, async ({ runId }) => {
      const parsed = Bytes32.safeParse(runId);
      if (!parsed.success) throw new ApiFailure(400, "A run id is 0x followed by 64 lowercase hex digits.");
      const run = await runView(sources, parsed.data as Hex);
      if (!run) throw new ApiFailure(404, `The DAO never approved a run ${runId}.`);
      return run;
    }),
  );
  app.get(
    API_PATHS.checkpoints,
    answer(CheckpointList, () => checkpointsView(sources)),
  );
  app.get(
    API_PATHS.contributors,
    answer(ContributorList, () => contributorsView(sources)),
  );
  app.get(
    API_PATHS.datasets,
    answer(DatasetList, () => datasetsView(sources)),
  );
  app.all("/api/*", (c) => c.json({ error: "The console has no such API path." }, 404));

  // The build's own bookkeeping (dotfiles) is not part of the site.
  app.use("*", async (c, next) => {
    if (c.req.path.split("/").some((part) => part.startsWith(".")))
      return c.json({ error: "Not found." }, 404);
    await next();
  });
  app.use("/*", serveStatic({ root: options.webDir }));

  app.onError((error, c) => {
    if (error instanceof ApiFailure) return c.json({ error: error.message }, error.status);
    options.logError?.(error);
    return c.json(
      { error: "The console could not read the chain or the orchestrator just now; it will retry." },
      502,
    );
  });
  return app;
}
