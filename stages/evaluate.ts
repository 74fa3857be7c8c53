/**
 * The `evaluate` kind: a trained model on the untouched test set, on the engine that trained it. Output
 * (`metrics`): metrics.json with test accuracy and loss, per-class precision and recall, the confusion matrix,
 * the parameter count, and the misclassified test indices per (true, predicted) pair; the inference time per
 * image (batched and one at a time) is in the run's metrics, not in the artifact, so the same predictions give
 * the same bytes; predictions.u8 holds the predicted class of every test image. With `tta: flip` each
 * prediction averages the image and its mirror image.
 */
import { Effect, Schema } from "effect"
import { defineKind, StageError } from "../pipelines/kind.js"
import { EvaluationParams } from "../engines/params.js"
import { DEFAULT_ENGINE, engineParams, engines as builtinEngines, identityOf, settingNames, type Engines } from "../engines/registry.js"

/** evaluate's params on these engines: the evaluation params, `engine` (one of their names) and every engine's settings. */
export const evaluateParams = <E extends Engines>(engines: E, fallback: keyof E & string) =>
  Schema.Struct(Object.assign({}, EvaluationParams.fields, engineParams(engines, fallback)))

/** The evaluate kind on these engines, with their params (evaluateParams); the built-in one is evaluateKind. */
export const makeEvaluateKind = <P extends EvaluationParams & { readonly engine: string }, PI>(engines: Engines, params: Schema.Schema<P, PI>) =>
  defineKind({
    kind: "evaluate",
    // 3: the inference times moved from metrics.json to the run's metrics
    version: 3,
    description: "Test-set accuracy, loss, per-class precision/recall, confusion matrix and inference time of a model",
    fields: {},
    // `engine`: the engine the model was trained on, which evaluates it.
    params,
    inputs: { model: { type: "model" }, split: { type: "split" } },
    output: "metrics",
    figures: ["test_accuracy", "test_accuracy_without_tta", "test_loss", "parameters", "ms_per_image_batch", "ms_per_image_single"],
    unkeyedParams: settingNames(engines),
    engine: (_config, p) => identityOf(engines, p).pipe(Effect.mapError((e) => new StageError({ message: e.message }))),
    // A model is evaluated on the engine it was trained on: said before anything runs, not after the training.
    check: ({ params, needs }) =>
      needs.flatMap((n) => {
        const trained = (n.params as { engine?: unknown } | null)?.engine
        return n.output === "model" && typeof trained === "string" && trained !== params.engine
          ? [
              {
                path: ["params", "engine"],
                message: `'${n.id}' trains on the ${trained} engine, so its model is evaluated on ${trained} too; set engine: ${trained} here (now ${params.engine})`
              }
            ]
          : []
      }),
    load: async () => (await import("./evaluate.run.js")).runner(engines),
    inProcess: true
  })

export const evaluateKind = makeEvaluateKind(builtinEngines, evaluateParams(builtinEngines, DEFAULT_ENGINE))

export type EvaluateParams = Schema.Schema.Type<typeof evaluateKind.params>
