// Writes contracts/abi/<Name>.ts (typed ABI + bytecode) and contracts/abi/index.ts.
//   node contracts/build.ts [outDir]     (default contracts/abi)
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CONTRACTS_DIR, compileContracts, renderIndex, renderModule } from "./compile.ts";

export function build(outDir: string): string[] {
  const contracts = compileContracts();
  mkdirSync(outDir, { recursive: true });
  const written = contracts.map((contract) => {
    const file = path.join(outDir, `${contract.name}.ts`);
    writeFileSync(file, renderModule(contract));
    return file;
  });
  const index = path.join(outDir, "index.ts");
  writeFileSync(index, renderIndex(contracts));
  return [...written, index];
}

if (import.meta.main) {
  const outDir = path.resolve(process.argv[2] ?? path.join(CONTRACTS_DIR, "abi"));
  for (const file of build(outDir)) console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
