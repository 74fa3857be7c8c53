/**
 * The `train` kind: one of the seed's models trained on a split with an augmentation policy, per epoch
 * validated, on one of the engines (engines/registry.ts). Output (a `model`, ml/modelArtifact.ts): the engine's
 * weights, the policy it was trained with (its preprocessing), config.json, metrics.jsonl (step losses, per-epoch
 * train/val loss and accuracy, learning rate) and summary.json. Timings (training time, images/s) are not in the
 * artifact, so the same training gives the same bytes: they are in the run's metrics, and per epoch in its log.
 */
import { Effect, Schema } from "effect"
import { defineKind, StageError } from "../pipelines/kind.js"
import { TrainingParams, withoutDefaultDropout } from "../engines/params.js"
import { DEFAULT_ENGINE, engineParams, engines as builtinEngines, identityOf, settingNames, type Engines } from "../engines/registry.js"

/** train's params on these engines: the training params, `engine` (one of their names) and every engine's settings. */
export const trainParams = <E extends Engines>(engines: E, fallback: keyof E & string) =>
  Schema.Struct(Object.assign({}, TrainingParams.fields, engineParams(engines, fallback)))

/** The train kind on these engines, with their params (trainParams); the built-in one is trainKind. */
export const makeTrainKind = <P extends TrainingParams & { readonly engine: string }, PI>(engines: Engines, params: Schema.Schema<P, PI>) =>
  defineKind({
    kind: "train",
    // 4: the wasm max-pool gradient no longer drops the first block's gradients when the wasm memory grows
    // 5: no timings in the artifact (summary.json, metrics.jsonl); config.json's params leave out backend, device, python
    version: 5,
    description: "Trains one of the seed's models (mlp, cnn, resnet18, resnet34) with Adam and a cosine schedule",
    fields: {},
    params,
    inputs: { split: { type: "split" }, augment: { type: "augmentation-policy" } },
    output: "model",
    figures: ["val_accuracy", "val_loss", "train_accuracy", "train_loss", "parameters", "epochs", "images_per_s", "seconds"],
    // Where the engine runs (backend, device...): the engine identity in the key says what actually ran.
    unkeyedParams: settingNames(engines),
    keyParams: withoutDefaultDropout,
    engine: (_config, p) => identityOf(engines, p).pipe(Effect.mapError((e) => new StageError({ message: e.message }))),
    load: async () => (await import("./train.run.js")).runner(engines),
    inProcess: true
  })

export const trainKind = makeTrainKind(builtinEngines, trainParams(builtinEngines, DEFAULT_ENGINE))

export type TrainParams = Schema.Schema.Type<typeof trainKind.params>
