/**
 * The `train` kind: one of the seed's models trained on a split with an augmentation policy, per epoch
 * validated, on an engine behind one contract. Output (a `model`): model.json + weights.bin, the policy it
 * was trained with (its preprocessing), config.json, metrics.jsonl (step losses, per-epoch train/val loss and
 * accuracy, learning rate) and summary.json. Timings (training time, images/s) are not in the artifact, so the
 * same training gives the same bytes: they are in the run's metrics, and per epoch in its log.
 */
import { Effect, Schema } from "effect"
import { defineKind, StageError } from "../pipelines/kind.js"
import { DEFAULT_DROPOUT, TrainingParams } from "../engines/params.js"
import { withDefault } from "../ml/schemas.js"
import { BackendUnavailable, pickBackend, tfjsVersion } from "../engines/tfjs/engine.js"

export const BackendParam = Schema.Literal("auto", "tensorflow-gpu", "tensorflow", "wasm", "cpu").annotations({
  description: "one of auto, tensorflow-gpu, tensorflow, wasm, cpu"
})

/** Which engine runs the stage, and the torch engine's settings (shared with evaluate). */
export const EngineParams = {
  engine: withDefault(Schema.Literal("tfjs", "torch").annotations({ description: "tfjs or torch" }), "tfjs"),
  /** torch only: where to run; the device actually used is part of the key. */
  device: withDefault(Schema.Literal("auto", "cpu", "cuda").annotations({ description: "auto, cpu or cuda" }), "auto"),
  /** torch only: the Python interpreter (default: $PIPE_PYTHON, else the first of python3, /usr/bin/python3 with torch). */
  python: Schema.optionalWith(Schema.String.annotations({ description: "a path to a Python interpreter" }), { exact: true })
}

const TrainParams = Schema.Struct({
  ...TrainingParams.fields,
  backend: withDefault(BackendParam, "auto"),
  ...EngineParams
})

export type TrainParams = Schema.Schema.Type<typeof TrainParams>

/**
 * The engine identity for the key. tfjs: the backend that will actually run, found without loading
 * TensorFlow.js. torch: the torch version, device and CUDA version of the interpreter that will run it.
 */
export const engineIdentity = (params: { engine: "tfjs" | "torch"; backend: TrainParams["backend"]; device: "auto" | "cpu" | "cuda"; python?: string }) =>
  params.engine === "torch"
    ? Effect.tryPromise({
        try: async () => {
          const { torchIdentity } = await import("../engines/torch/engine.js")
          const id = await torchIdentity(params.python, params.device)
          return { engine: "torch", torch: id.torch, device: id.device, ...(id.cuda ? { cuda: id.cuda } : {}) } as Record<string, string>
        },
        catch: (e) => new StageError({ message: (e as Error).message })
      })
    : tfjsEngine(params.backend)

export const tfjsEngine = (backend: TrainParams["backend"]) =>
  Effect.try({
    try: () => ({ engine: "tfjs", backend: pickBackend(backend), tfjs: tfjsVersion() ?? "unknown" }),
    catch: (e) => new StageError({ message: e instanceof BackendUnavailable ? e.message : String(e) })
  })

export const trainKind = defineKind({
  kind: "train",
  // 4: the wasm max-pool gradient no longer drops the first block's gradients when the wasm memory grows
  // 5: no timings in the artifact (summary.json, metrics.jsonl); config.json's params leave out backend, device, python
  version: 5,
  description: "Trains one of the seed's models (mlp, cnn, resnet18, resnet34) with Adam and a cosine schedule",
  fields: {},
  params: TrainParams,
  inputs: { split: { type: "split" }, augment: { type: "augmentation-policy" } },
  output: "model",
  figures: ["val_accuracy", "val_loss", "train_accuracy", "train_loss", "parameters", "epochs", "images_per_s", "seconds"],
  unkeyedParams: ["backend", "device", "python"],
  keyParams: ({ dropout, ...rest }) => (dropout === undefined || dropout === DEFAULT_DROPOUT[rest.model] ? rest : { ...rest, dropout }),
  engine: (_config, params) => engineIdentity(params),
  load: () => import("./train.run.js")
})
