import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import axe from "axe-core";
import { type BrowserContext, chromium, type Page } from "playwright-core";

// Debian's Chromium, driven by playwright-core (the project cannot download browsers), headless,
// with a fresh profile per test file; and the checks every page gets: screenshots and axe-core.

const projectRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The system browser: DAOTRAIN_CHROMIUM, the one bootstrap linked, or chromium on PATH. */
function chromiumExecutable(): string {
  const linked = join(projectRoot, ".daotrain", "bin", "chromium");
  const candidate = process.env.DAOTRAIN_CHROMIUM ?? (existsSync(linked) ? linked : undefined);
  if (candidate) return candidate;
  try {
    return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("no chromium on PATH: run `bootstrap/bootstrap.sh --only chromium` (Debian's chromium)");
  }
}

export interface Browser {
  context: BrowserContext;
  /** Where screenshots go; printed once so a person can look at them. */
  artifacts: string;
  close(): Promise<void>;
}

export async function launchChromium(artifactsName: string): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), "daotrain-chromium-"));
  const artifacts = join(projectRoot, ".daotrain", "artifacts", artifactsName);
  await rm(artifacts, { recursive: true, force: true });
  await mkdir(artifacts, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumExecutable(),
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  process.stdout.write(`console screenshots: ${artifacts}\n`);
  return {
    context,
    artifacts,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Every message the page logged as an error and every uncaught exception (CSP violations included). */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}

export interface AxeViolation {
  id: string;
  impact: string | null | undefined;
  help: string;
  nodes: number;
}

/** axe-core's serious and critical violations on the page as it stands. */
export async function seriousAccessibilityViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axe.source);
  // Runs in the page, where axe is a global; this file is type-checked without the DOM's types.
  const violations = await page.evaluate(async () => {
    const inPage = globalThis as unknown as { axe: typeof axe; document: unknown };
    const results = await inPage.axe.run(inPage.document as never, { resultTypes: ["violations"] });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.length,
    }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

export async function screenshot(browser: Browser, page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(browser.artifacts, `${name}.png`), fullPage: true });
}
