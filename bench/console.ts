// The members' console: the page's JavaScript gzipped against its 400 kB budget, and the time to
// first render of the proposals page in Chromium on a local chain with the DAO's proposals,
// beside the time the server takes to answer the two requests that page needs (measured in the
// same run, from Node): the ratio is what the browser adds (download, parse, React, wagmi).
//
//   node bench/console.ts [--loads 5]
//
// Needs `bootstrap/bootstrap.sh --only chromium` and `source scripts/env.sh`.
import { readFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { API_PATHS } from "../console/api.ts";
import { startConsoleServer } from "../console/server/server.ts";
import { DEFAULT_WEB_DIR, ensureWebBuild } from "../console/server/webBuild.ts";
import { connect } from "../governance/chain.ts";
import { admitClusterProposal, approveDatasetProposal } from "../governance/proposals.ts";
import { registerCluster } from "../governance/writes.ts";
import { launchChromium } from "../tests/console/chromium.ts";
import { id, startDaoFixture } from "../tests/governance/fixture.ts";
import { printTable } from "./table.ts";

const { values } = parseArgs({ options: { loads: { type: "string", default: "5" } } });
const loads = Number(values.loads);
const BUDGET_BYTES = 400 * 1024;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** The JavaScript index.html loads (entry and preloads, and what they import), gzipped at level 9. */
async function gzippedJavaScript(webDir: string): Promise<{ files: number; raw: number; gzipped: number }> {
  const assets = (await readFile(join(webDir, "index.html"), "utf8")).matchAll(
    /(?:src|href)="\.\/(assets\/[^"]+\.js)"/g,
  );
  const seen = new Set<string>();
  const queue = [...assets].map((m) => m[1]!);
  let raw = 0;
  let gzipped = 0;
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const bytes = await readFile(join(webDir, file));
    raw += bytes.length;
    gzipped += gzipSync(bytes, { level: 9 }).length;
    // Static imports between chunks (`from"./x.js"`); dynamic ones load only when used.
    for (const m of bytes.toString("utf8").matchAll(/from\s*"\.\/([^"]+\.js)"/g))
      queue.push(`assets/${m[1]}`);
  }
  return { files: seen.size, raw, gzipped };
}

const webDir = await ensureWebBuild({ log: (line) => console.error(line) });
const js = await gzippedJavaScript(webDir ?? DEFAULT_WEB_DIR);

const dao = await startDaoFixture();
const browser = await launchChromium("console-bench");
try {
  // A DAO with some history: a dataset approved, two clusters admitted, one vote open.
  await dao.pass(
    approveDatasetProposal(dao.deployment.contracts, {
      root: id("data"),
      uri: "file:///nowhere",
      license: "CC0-1.0",
    }),
  );
  for (const [index, name] of ["alpha", "beta"].entries()) {
    const owner = dao.others[index]!;
    await registerCluster(owner, { clusterId: id(name), gpuCapacity: 8, gpuProduct: "H100", metadata: name });
    await dao.pass(
      admitClusterProposal(dao.deployment.contracts, {
        clusterId: id(name),
        owner: owner.wallet!.account.address,
        gpuCapacity: 8,
      }),
    );
  }
  const governance = await connect({ deployment: dao.deployment });
  const server = await startConsoleServer({
    sources: { governance, temporal: undefined, storeOptions: {} },
    browserRpcUrl: dao.anvil.rpcUrl,
  });

  const renders: number[] = [];
  const answers: number[] = [];
  for (let i = 0; i < loads; i++) {
    const started = performance.now();
    for (const path of [API_PATHS.config, API_PATHS.proposals])
      await (await fetch(new URL(path, server.url))).text();
    answers.push(performance.now() - started);
    // A fresh page each time with the cache disabled: every load is a first visit.
    const page = await browser.context.newPage();
    await page.route("**/*", (route) =>
      route.continue({ headers: { ...route.request().headers(), "cache-control": "no-cache" } }),
    );
    await page.goto(server.url);
    await page.locator("ol.cards").waitFor();
    renders.push(
      await page.evaluate(
        () => performance.getEntriesByName("proposals-rendered")[0]?.startTime ?? Number.NaN,
      ),
    );
    await page.close();
  }
  await server.stop();

  console.log(
    `\nconsole bench: ${loads} loads, ${cpus().length} cores, load average ${loadavg()[0]?.toFixed(2)}\n`,
  );
  printTable(
    ["figure", "value", "baseline", "ratio"],
    [
      [
        `page JavaScript, gzip -9 (${js.files} files, ${(js.raw / 1024).toFixed(0)} kB raw)`,
        `${(js.gzipped / 1024).toFixed(1)} kB`,
        `budget ${BUDGET_BYTES / 1024} kB`,
        (js.gzipped / BUDGET_BYTES).toFixed(2),
      ],
      [
        "proposals page, navigation → first render (median)",
        `${median(renders).toFixed(0)} ms`,
        `server answers config + proposals: ${median(answers).toFixed(0)} ms`,
        (median(renders) / median(answers)).toFixed(1),
      ],
    ],
  );
} finally {
  await browser.close();
  await dao.stop();
}
