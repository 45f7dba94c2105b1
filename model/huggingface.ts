import { type Tensor, toFloat32 } from "../checkpoints/tensor.ts";
import { byteTokenizer } from "../datasets/tokenizer.ts";
import type { ModelSpec, RunSpec } from "../spec/runSpec.ts";
import { parameterShapes } from "./parameters.ts";

// daotrain's model in the layout Hugging Face `transformers` loads as `GPT2LMHeadModel`: the
// architecture is GPT-2's exactly (pre-LayerNorm blocks, Conv1D weights stored [in, out], q|k|v
// concatenated in c_attn, learned positions, GELU's tanh approximation, LayerNorm ε 1e-5, output
// tied to the token embedding), so the conversion only renames tensors and writes the configs.
// Everything here is a pure function of the checkpoint's tensors and run spec, so anyone holding
// them recomputes the same bytes (download/ relies on that to verify a release).

/** The outer optimizer's state in a global checkpoint: `outer.momentum.<param>` (diloco/ writes it; trainers ignore it). */
export const MOMENTUM_PREFIX = "outer.momentum.";
/** Where `GPT2LMHeadModel` keeps the decoder's parameters. */
const HF_PREFIX = "transformer.";

/** A daotrain parameter name (`wte`, `h.0.ln_1.weight`) as GPT2LMHeadModel names it. */
export function huggingFaceName(name: string): string {
  return name === "wte" || name === "wpe" ? `${HF_PREFIX}${name}.weight` : `${HF_PREFIX}${name}`;
}

/** The safetensors metadata transformers expects of a PyTorch checkpoint. */
export const HF_METADATA = { format: "pt" } as const;

/** Where each checkpoint tensor goes in a release: which file, under which name. */
export interface ReleasedTensor {
  readonly file: "model" | "momentum";
  readonly name: string;
}

/**
 * Maps every model parameter to the release's weights file and every momentum tensor to the
 * optimizer file, both under GPT-2 names; refuses a checkpoint with a tensor of neither kind
 * (nothing in a release may be left unaccounted for).
 */
export function releasedTensorOf(checkpointName: string, model: ModelSpec): ReleasedTensor {
  const parameters = new Set(parameterShapes(model).map(([name]) => name));
  if (parameters.has(checkpointName)) return { file: "model", name: huggingFaceName(checkpointName) };
  if (checkpointName.startsWith(MOMENTUM_PREFIX)) {
    const parameter = checkpointName.slice(MOMENTUM_PREFIX.length);
    if (parameters.has(parameter)) return { file: "momentum", name: huggingFaceName(parameter) };
  }
  throw new Error(`checkpoint tensor ${checkpointName} is neither a model parameter nor its outer momentum`);
}

/** Splits a checkpoint's tensors into the release's weights and optimizer state, renamed. */
export function splitForRelease(
  tensors: Readonly<Record<string, Tensor>>,
  model: ModelSpec,
): { model: Record<string, Tensor>; momentum: Record<string, Tensor> } {
  const out = { model: {} as Record<string, Tensor>, momentum: {} as Record<string, Tensor> };
  for (const [name, tensor] of Object.entries(tensors)) {
    const target = releasedTensorOf(name, model);
    out[target.file][target.name] = tensor;
  }
  for (const [name] of parameterShapes(model)) {
    if (!out.model[huggingFaceName(name)]) throw new Error(`the checkpoint has no tensor ${name}`);
  }
  return out;
}

/** The model's float32 parameter values, by daotrain name, from tensors under GPT2LMHeadModel's names. */
export function valuesFromHuggingFace(
  tensors: Readonly<Record<string, Tensor>>,
  model: ModelSpec,
): Record<string, Float32Array> {
  const values: Record<string, Float32Array> = {};
  for (const [name, shape] of parameterShapes(model)) {
    const tensor = tensors[huggingFaceName(name)];
    if (!tensor || tensor.shape.join() !== shape.join())
      throw new Error(`the weights have no ${huggingFaceName(name)} of shape [${shape}]`);
    values[name] = toFloat32(tensor);
  }
  return values;
}

/** GPT-2's `config.json` for the spec's model. */
export function gpt2Config(model: ModelSpec): Record<string, unknown> {
  return {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: model.vocabSize,
    n_positions: model.contextLength,
    n_ctx: model.contextLength,
    n_embd: model.dModel,
    n_layer: model.layers,
    n_head: model.heads,
    n_inner: model.dModel * model.ffnMultiplier,
    activation_function: "gelu_new",
    layer_norm_epsilon: 1e-5,
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    initializer_range: 0.02,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    tie_word_embeddings: true,
    use_cache: true,
    // The byte-level tokenizer has no special tokens: generation runs to its length.
    bos_token_id: null,
    eos_token_id: null,
    pad_token_id: null,
    dtype: "float32",
  };
}

/** `generation_config.json`: greedy by default, at most one context of new tokens. */
export function generationConfig(model: ModelSpec): Record<string, unknown> {
  return {
    do_sample: false,
    max_length: model.contextLength,
    bos_token_id: null,
    eos_token_id: null,
    pad_token_id: null,
  };
}

/**
 * GPT-2's printable stand-in for each byte (`bytes_to_unicode`): the tokenizers library's
 * ByteLevel pre-tokenizer and decoder speak in these characters.
 */
export function byteCharacters(): string[] {
  const printable: number[] = [];
  for (const [from, to] of [
    [0x21, 0x7e],
    [0xa1, 0xac],
    [0xae, 0xff],
  ] as const)
    for (let b = from; b <= to; b++) printable.push(b);
  const chars: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) chars[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return chars;
}

/**
 * `tokenizer.json` for the trainer's byte-level tokenizer (datasets/tokenizer.ts): a BPE model with
 * no merges over GPT-2's byte alphabet, so every UTF-8 byte is one token whose id is the byte's
 * value, exactly the ids the model was trained on.
 */
export function tokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  for (const [byte, char] of byteCharacters().entries()) vocab[char] = byte;
  const byteLevel = { add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", ...byteLevel },
    post_processor: { type: "ByteLevel", ...byteLevel },
    decoder: { type: "ByteLevel", ...byteLevel },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

export function tokenizerConfig(model: ModelSpec): Record<string, unknown> {
  return {
    tokenizer_class: "PreTrainedTokenizerFast",
    model_max_length: model.contextLength,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    bos_token: null,
    eos_token: null,
    unk_token: null,
    pad_token: null,
  };
}

/** The release's JSON files, as bytes, from the run spec alone. */
export function huggingFaceConfigFiles(spec: RunSpec): Record<string, string> {
  if (byteTokenizer.vocabSize > spec.model.vocabSize)
    throw new Error(
      `the model's vocabSize ${spec.model.vocabSize} is below the tokenizer's ${byteTokenizer.vocabSize}`,
    );
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  return {
    "config.json": json(gpt2Config(spec.model)),
    "generation_config.json": json(generationConfig(spec.model)),
    "tokenizer.json": json(tokenizerJson()),
    "tokenizer_config.json": json(tokenizerConfig(spec.model)),
  };
}
