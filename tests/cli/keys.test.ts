import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ExitCode } from "../../cli/program.ts";
import { readKeystore, writeKeystore } from "../../governance/keys.ts";
import { getCluster } from "../../governance/reads.ts";
import { clusterIdOf } from "../../workers/clusterDirectory.ts";
import { type CliChain, registerClusterArgs, startCliChain } from "./chainFixture.ts";
import { daotrain } from "./inProcess.ts";

// Signing keys off the command line: keystores in the format geth and `cast wallet` write,
// opened with a password from a file or a terminal prompt, or DAOTRAIN_KEY; never --key.

/** Web3 Secret Storage's own PBKDF2 test vector (ethereum/wiki, "Web3 Secret Storage Definition"). */
const SPEC_VECTOR = {
  crypto: {
    cipher: "aes-128-ctr",
    cipherparams: { iv: "6087dab2f9fdbbfaddc31a909735c1e6" },
    ciphertext: "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
    kdf: "pbkdf2",
    kdfparams: {
      c: 262144,
      dklen: 32,
      prf: "hmac-sha256",
      salt: "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd",
    },
    mac: "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
  },
  id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  version: 3,
};

let chain: CliChain;
beforeAll(async () => {
  chain = await startCliChain();
});
afterAll(() => chain?.stop());

describe("keystores", () => {
  test("open the Web3 Secret Storage specification's test vector, the format geth and cast wallet write", async () => {
    const file = join(chain.dir, "vector.json");
    await writeFile(file, JSON.stringify(SPEC_VECTOR));
    expect(await readKeystore(file, "testpassword")).toBe(
      "0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d",
    );
    await expect(readKeystore(file, "wrong")).rejects.toThrow(`wrong password for keystore ${file}`);
  });

  test("`daotrain key new` writes a keystore (mode 0600, never over another) that `cluster register --keystore` signs with", async () => {
    const keystore = join(chain.dir, "new.json");
    const passwordFile = join(chain.dir, "new.password");
    await writeFile(passwordFile, "a long enough password\n");
    const created = await daotrain(
      "key",
      "new",
      "--out",
      keystore,
      "--password-file",
      passwordFile,
      "--json",
    );
    expect(created.code, created.stderr).toBe(ExitCode.ok);
    const { address } = JSON.parse(created.stdout) as { address: string };
    expect((await stat(keystore)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(keystore, "utf8")).version).toBe(3);

    const again = await daotrain("key", "new", "--out", keystore, "--password-file", passwordFile);
    expect(again.code).toBe(ExitCode.failed);
    expect(again.stderr).toMatch(/exists already; a keystore is never overwritten/);

    // The new account needs gas to register a cluster.
    const funder = chain.dao.others.at(-1)?.wallet;
    if (!funder) throw new Error("no spare funded account");
    await funder.sendTransaction({ to: address as `0x${string}`, value: 10n ** 18n });
    const registered = await daotrain(
      ...registerClusterArgs(chain, "keystore-lab", "--keystore", keystore, "--password-file", passwordFile),
    );
    expect(registered.code, registered.stderr).toBe(ExitCode.ok);
    expect((await getCluster(chain.dao.operator, clusterIdOf("keystore-lab"))).owner).toBe(address);
  });

  test("refuses by name a key on the command line, a wrong password, and a keystore without a password on a non-terminal", async () => {
    const key = chain.dao.anvil.accounts[8]!.privateKey;
    const register = (...signing: string[]) =>
      daotrain(...registerClusterArgs(chain, "refused-lab", ...signing));
    const onArgv = await register("--key", key);
    expect(onArgv.code).toBe(ExitCode.usage);
    expect(onArgv.stderr).toMatch(/lands in shell history and the process list; use --keystore FILE/);
    expect(onArgv.stderr).not.toContain(key);

    const keystore = join(chain.dir, "refused.json");
    await writeKeystore(keystore, key, "right password", { scryptN: 1024 });
    const passwordFile = join(chain.dir, "wrong.password");
    await writeFile(passwordFile, "wrong password\n");
    const wrong = await register("--keystore", keystore, "--password-file", passwordFile);
    expect(wrong.code).toBe(ExitCode.failed);
    expect(wrong.stderr).toContain(`wrong password for keystore ${keystore}`);

    const unprompted = await register("--keystore", keystore);
    expect(unprompted.code).toBe(ExitCode.usage);
    expect(unprompted.stderr).toMatch(/stdin is not a terminal to prompt on; pass --password-file FILE/);
    expect((await getCluster(chain.dao.operator, clusterIdOf("refused-lab"))).status).toBe("none");
  });
});
