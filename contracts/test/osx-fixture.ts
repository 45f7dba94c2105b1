// Writes the Aragon OSx DAO implementation's creation bytecode (from @aragon/osx-ethers) where the
// Forge tests read it, so they exercise the real permission manager rather than a double.
//   node contracts/test/osx-fixture.ts
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const { DAO__factory } = createRequire(import.meta.url)("@aragon/osx-ethers") as {
  DAO__factory: { bytecode: string };
};
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "cache", "fixtures");
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, "OsxDao.hex"), DAO__factory.bytecode);
