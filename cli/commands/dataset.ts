import { type Command, InvalidArgumentError } from "commander";
import { DatasetError } from "../../datasets/manifest.ts";
import { DEFAULT_SHARD_TOKENS, packDataset } from "../../datasets/pack.ts";
import { CliError } from "../program.ts";

function positiveInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a whole number ≥ 1, got ${value}`);
    }
    return n;
  };
}

/** `daotrain dataset pack <dir|file> --out DIR`: tokenizes text into verified, fixed-size shards. */
export function register(program: Command): void {
  const dataset = program.command("dataset").description("prepare training data");
  dataset
    .command("pack")
    .description(
      "tokenize text (a file, or every file under a directory) into fixed-size shards with a manifest and a Merkle root",
    )
    .argument("<input>", "a text file or a directory of text files")
    .requiredOption("--out <dir>", "directory to write the shards and manifest.json to (written atomically)")
    .option("--shard-tokens <n>", "tokens per shard", positiveInteger("--shard-tokens"), DEFAULT_SHARD_TOKENS)
    .option(
      "--validation-shards <n>",
      "how many of the last shards to hold out",
      positiveInteger("--validation-shards"),
      1,
    )
    .option("--json", "print the manifest as JSON")
    .action(
      async (
        input: string,
        options: { out: string; shardTokens: number; validationShards: number; json?: boolean },
      ) => {
        try {
          const manifest = await packDataset(input, options.out, {
            shardTokens: options.shardTokens,
            validationShards: options.validationShards,
          });
          if (options.json) {
            process.stdout.write(`${JSON.stringify({ dir: options.out, ...manifest }, null, 2)}\n`);
            return;
          }
          const train = manifest.shards.filter((s) => s.split === "train").length;
          process.stdout.write(
            `packed ${manifest.tokens} tokens (${manifest.tokenizer.kind} tokenizer) into ${train} training + ` +
              `${manifest.shards.length - train} validation shards of ${manifest.shardTokens} tokens in ${options.out}\n` +
              `root ${manifest.root}\n`,
          );
        } catch (error) {
          if (error instanceof DatasetError) throw new CliError(error.message);
          throw error;
        }
      },
    );
}
