import { type Command, InvalidArgumentError } from "commander";
import { byteTokenizer } from "../../datasets/tokenizer.ts";
import { continueTokens } from "../../model/generate.ts";
import { loadReleasedModel } from "../../release/load.ts";
import { CliError, ExitCode } from "../program.ts";
import { roundNumber } from "./download.ts";
import { type CopyOptions, verifyCopyWith, withCopyOptions } from "./verify.ts";

function temperature(value: string): number {
  const t = Number(value);
  if (!/^[0-9.]+$/.test(value) || !Number.isFinite(t) || t > 100)
    throw new InvalidArgumentError("must be a number from 0 (greedy) to 100");
  return t;
}

interface SampleOptions extends CopyOptions {
  prompt: string;
  tokens: number;
  temperature: number;
  seed: number;
}

export function register(program: Command): void {
  const command = program
    .command("sample")
    .description("continue a prompt with a downloaded release, after verifying it against the chain")
    .argument("<dir>", "a release directory (from daotrain download, or any copy of one)")
    .requiredOption("--prompt <text>", "the text to continue")
    .option("--tokens <n>", "tokens (bytes) to generate", roundNumber, 64)
    .option("--temperature <t>", "0 is greedy; higher samples more freely", temperature, 0.8)
    .option("--seed <n>", "seeds the sampler: same model, prompt and seed, same text", roundNumber, 0);
  withCopyOptions(command).action(async (dir: string, options: SampleOptions) => {
    if (options.prompt.length === 0)
      throw new CliError("--prompt is empty: give some text to continue", ExitCode.usage);
    // The card is prose: the weights and the configs the model is built from are what must be proven.
    const copy = await verifyCopyWith(dir, options, { include: ["*.safetensors", "*.json"] });
    if (copy.kind !== "release")
      throw new CliError(`${dir} is a raw checkpoint; sample reads releases (daotrain download fetches one)`);
    const { spec, values } = await loadReleasedModel(dir);
    const continuation = await continueTokens(
      values,
      spec.model,
      byteTokenizer.encode(options.prompt),
      options,
    );
    const text = byteTokenizer.decode(continuation);
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify({ runId: copy.runId, round: copy.round, root: copy.root, prompt: options.prompt, continuation: text, tokens: continuation }, null, 2)}\n`,
      );
      return;
    }
    process.stderr.write(`run ${copy.runId} round ${copy.round} (verified against root ${copy.root}):\n`);
    process.stdout.write(`${options.prompt}${text}\n`);
  });
}
