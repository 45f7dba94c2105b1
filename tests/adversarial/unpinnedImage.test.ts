import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { stringify as toYaml } from "yaml";
import { ExitCode } from "../../cli/program.ts";
import { proposalCount } from "../../governance/proposalReads.ts";
import { canonicalJson } from "../../spec/canonicalJson.ts";
import { runIdOf } from "../../spec/runSpec.ts";
import { governanceActivities } from "../../workers/activities/governance.ts";
import { daotrain } from "../cli/inProcess.ts";
import { type DaoFixture, id, startDaoFixture } from "../governance/fixture.ts";
import { TEST_IMAGE, tinySpec } from "../orchestration/fixtures.ts";

// Unpinned code (issue 12.7): a member proposes a run whose trainer image is a tag. A tag can be
// pointed at other code after the vote, so contributors would run code nobody voted on. The spec
// is refused, naming `image`, before any proposal exists; and a worker handed such a spec by a
// proposal built some other way refuses it too.

let dao: DaoFixture;
let dir: string;
let deploymentFile: string;
const TAGGED = "ghcr.io/daotrain/trainer:latest";

beforeAll(async () => {
  dao = await startDaoFixture();
  dir = await mkdtemp(join(tmpdir(), "daotrain-unpinned-"));
  deploymentFile = join(dir, "deployment.json");
  await writeFile(deploymentFile, JSON.stringify(dao.deployment));
});

afterAll(async () => {
  await dao?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The spec a member would write, with `image` as given (JSON: the schema fills in the defaults). */
function specWith(image: string): Record<string, unknown> {
  return { ...JSON.parse(canonicalJson(tinySpec({ dataset: id("dataset") }))), image };
}

async function propose(specFile: string) {
  const member = dao.anvil.accounts[1]!;
  process.env.DAOTRAIN_KEY = member.privateKey;
  try {
    return await daotrain("propose", "run", specFile, "--deployment", deploymentFile, "--json");
  } finally {
    delete process.env.DAOTRAIN_KEY;
  }
}

describe("a run spec whose trainer image is not pinned by digest", () => {
  test("cannot even be proposed: the CLI exits 2 naming image and no proposal reaches the DAO, while the same spec pinned by digest is proposed", async () => {
    const before = await proposalCount(dao.operator);
    const tagged = join(dir, "tagged.yaml");
    await writeFile(tagged, toYaml(specWith(TAGGED)));
    const refused = await propose(tagged);
    expect(refused.code).toBe(ExitCode.usage);
    expect(refused.stderr).toMatch(
      /image: must be pinned by digest \(registry\/name@sha256:<64 hex digits>\)/,
    );
    expect(await proposalCount(dao.operator)).toBe(before);

    const pinned = join(dir, "pinned.yaml");
    await writeFile(pinned, toYaml(specWith(TEST_IMAGE)));
    const proposed = await propose(pinned);
    expect(proposed.code, proposed.stderr).toBe(ExitCode.ok);
    expect(await proposalCount(dao.operator)).toBe(before + 1n);
  });

  test("approved by a proposal built without the CLI, it is refused by the worker before any run starts, naming image", async () => {
    const spec = specWith(TAGGED);
    const specUri = `data:application/json;base64,${Buffer.from(JSON.stringify(spec)).toString("base64")}`;
    const fetching = governanceActivities({
      chain: dao.operator,
      confirmations: 0,
      specReading: {},
    }).fetchRunSpec({
      runId: runIdOf(tinySpec({ dataset: id("dataset") })),
      specUri,
    });
    // Final: retrying cannot change what the document says.
    await expect(fetching).rejects.toMatchObject({ type: "InvalidInputError", nonRetryable: true });
    await expect(fetching).rejects.toThrow(/image: must be pinned by digest/);
  });
});
