export { InputMismatchError, stagedInput } from "./io.ts";
export { runTrainer, type TrainerResult } from "./run.ts";
