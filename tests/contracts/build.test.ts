import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { build } from "../../contracts/build.ts";
import { CONTRACTS_DIR } from "../../contracts/compile.ts";

const committedDir = path.join(CONTRACTS_DIR, "abi");
const freshDir = mkdtempSync(path.join(tmpdir(), "daotrain-abi-"));

afterAll(() => rmSync(freshDir, { recursive: true, force: true }));

describe("contracts build", () => {
  it("a fresh solcjs build reproduces the committed ABIs and bytecode byte for byte", () => {
    build(freshDir);
    const fresh = readdirSync(freshDir).sort();
    expect(fresh).toEqual(readdirSync(committedDir).sort());
    for (const file of fresh) {
      const message = `contracts/abi/${file} differs from a fresh build: run \`node contracts/build.ts\` and commit`;
      expect(readFileSync(path.join(freshDir, file), "utf8"), message).toBe(
        readFileSync(path.join(committedDir, file), "utf8"),
      );
    }
  });

  it("exports every deployable contract as an as-const ABI with creation bytecode", async () => {
    const abi = await import("../../contracts/abi/index.ts");
    for (const name of [
      "checkpointRegistry",
      "clusterRegistry",
      "daoTrainToken",
      "datasetRegistry",
      "runRegistry",
    ]) {
      const key = name as "runRegistry";
      expect(abi[`${key}Abi`].some((item) => item.type === "constructor")).toBe(true);
      expect(abi[`${key}Bytecode`]).toMatch(/^0x(?:[0-9a-f]{2})+$/);
    }
  });
});
