/**
 * The `evaluate` kind: a trained model on the untouched test set. Output (`metrics`): metrics.json with test
 * accuracy and loss, per-class precision and recall, the confusion matrix, the parameter count, and the
 * misclassified test indices per (true, predicted) pair; the inference time per image (batched and one at a
 * time) is in the run's metrics, not in the artifact, so the same predictions give the same bytes;
 * predictions.u8 holds the predicted class of every test image. With `tta: flip` each prediction averages the
 * image and its mirror image.
 */
import { Schema } from "effect"
import { defineKind } from "../pipelines/kind.js"
import { EvaluationParams } from "../engines/params.js"
import { withDefault } from "../ml/schemas.js"
import { BackendParam, EngineParams, engineIdentity } from "./train.js"

const EvaluateParams = Schema.Struct({
  backend: withDefault(BackendParam, "auto"),
  ...EvaluationParams.fields,
  /** The engine the model was trained on: a torch model is evaluated by the torch worker. */
  ...EngineParams
})

export type EvaluateParams = Schema.Schema.Type<typeof EvaluateParams>

export const evaluateKind = defineKind({
  kind: "evaluate",
  // 3: the inference times moved from metrics.json to the run's metrics
  version: 3,
  description: "Test-set accuracy, loss, per-class precision/recall, confusion matrix and inference time of a model",
  fields: {},
  params: EvaluateParams,
  inputs: { model: { type: "model" }, split: { type: "split" } },
  output: "metrics",
  figures: ["test_accuracy", "test_accuracy_without_tta", "test_loss", "parameters", "ms_per_image_batch", "ms_per_image_single"],
  unkeyedParams: ["backend", "device", "python"],
  engine: (_config, params) => engineIdentity(params),
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
  load: () => import("./evaluate.run.js")
})
