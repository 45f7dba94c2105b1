import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CONTRACTS_DIR } from "../../contracts/compile.ts";

const wrapper = path.join(CONTRACTS_DIR, "solc-wrapper", "solc");

function run(args: string[], input = ""): string {
  return execFileSync(wrapper, args, { input, encoding: "utf8" });
}

describe("solc wrapper (solcjs dressed as native solc for forge)", () => {
  it("reports the version in the native format forge parses", () => {
    expect(run(["--version"])).toMatch(
      /^solc, the solidity compiler commandline interface\nVersion: 0\.8\.28\+commit\.[0-9a-f]{8}\.Linux\.g\+\+\n$/,
    );
  });

  it("compiles standard JSON from stdin and prints nothing but the output JSON", () => {
    const input = {
      language: "Solidity",
      sources: {
        "A.sol": { content: "// SPDX-License-Identifier: MIT\npragma solidity 0.8.28;\ncontract A {}" },
      },
      settings: { outputSelection: { "*": { "*": ["evm.bytecode.object"] } } },
    };
    const output = JSON.parse(run(["--standard-json"], JSON.stringify(input)));
    expect(output.errors ?? []).toEqual([]);
    expect(output.contracts["A.sol"].A.evm.bytecode.object).toMatch(/^[0-9a-f]+$/);
  });

  it("refuses other command lines with exit status 2", () => {
    expect(() => run(["--bin", "A.sol"])).toThrow(expect.objectContaining({ status: 2 }));
  });
});
