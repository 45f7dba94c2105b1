import { expect, test } from "vitest";

test("the project runs on Node.js 22 or newer even where the machine's node is older", () => {
  console.log(`tests run on Node.js ${process.version} (${process.execPath})`);
  const major = Number(process.versions.node.split(".")[0]);
  expect(major).toBeGreaterThanOrEqual(22);
});
