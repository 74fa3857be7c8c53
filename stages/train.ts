/**
 * The `train` kind: one of the seed's models trained on a split with an augmentation policy, per epoch
 * validated, on one of the engines (engines/registry.ts). Output (a `model`, ml/modelArtifact.ts): the engine's
 * weights, the policy it was trained with (its preprocessing), config.json, metrics.jsonl (step losses, per-epoch
 * train/val loss and accuracy, learning rate) and summary.json. Timings (training time, images/s) are not in the
 * artifact, so the same training gives the same bytes: they are in the run's metrics, and per epoch in its log.
 */
import { Effect, Schema } from "effect"
import { defineKind, StageError } from "../pipelines/kind.js"
import { DEFAULT_DROPOUT, RECIPE, TrainingParams, withoutDefaultDropout } from "../engines/params.js"
import type { StageIssue } from "../pipelines/kind.js"
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
    // resume: a model of the same recipe, trained fewer epochs with the same schedule_epochs, to continue.
    inputs: { split: { type: "split" }, augment: { type: "augmentation-policy" }, resume: { type: "model", optional: true } },
    output: "model",
    figures: ["val_accuracy", "val_loss", "train_accuracy", "train_loss", "parameters", "epochs", "images_per_s", "seconds"],
    // Where the engine runs (backend, device...): the engine identity in the key says what actually ran.
    unkeyedParams: settingNames(engines),
    keyParams: withoutDefaultDropout,
    check: ({ params, needs }) => resumeIssues(params, needs),
    engine: (_config, p) => identityOf(engines, p).pipe(Effect.mapError((e) => new StageError({ message: e.message }))),
    load: async () => (await import("./train.run.js")).runner(engines),
    inProcess: true
  })

const shown = (v: unknown) => (v === undefined ? "unset" : typeof v === "string" ? v : JSON.stringify(v))

/** Why this training cannot continue the model it needs (a train stage of another recipe or as many epochs), if so. */
const resumeIssues = (
  params: TrainingParams & { readonly engine: string },
  needs: ReadonlyArray<{ readonly id: string; readonly kind: string; readonly output: string; readonly params: unknown }>
): Array<StageIssue> => {
  const out: Array<StageIssue> = []
  if (params.schedule_epochs !== undefined && params.schedule_epochs < params.epochs) {
    out.push({ path: ["params", "schedule_epochs"], message: `${params.schedule_epochs} is fewer than epochs (${params.epochs}): the schedule runs at least as long as the training` })
  }
  const index = needs.findIndex((n) => n.output === "model")
  if (index < 0) return out
  const from = needs[index]!
  const at = ["needs", index]
  if (from.kind !== "train") return [...out, { path: at, message: `${from.id} is a ${from.kind} stage; a training continues only a train stage's model` }]
  const prev = from.params as TrainingParams & { readonly engine: string }
  if (params.schedule_epochs === undefined) {
    out.push({ path: ["params"], message: `continuing ${from.id} needs schedule_epochs, the horizon both trainings share (e.g. schedule_epochs: ${Math.max(params.epochs, prev.schedule_epochs ?? 0)})` })
    return out
  }
  const dropout = (p: TrainingParams) => p.dropout ?? DEFAULT_DROPOUT[p.model]
  for (const k of [...RECIPE, "engine"] as const) {
    const a = k === "dropout" ? dropout(prev) : (prev as Record<string, unknown>)[k]
    const b = k === "dropout" ? dropout(params) : (params as Record<string, unknown>)[k]
    if (a !== b) {
      out.push({ path: ["params", k], message: `continues ${from.id}, whose ${k} is ${shown(a)} (here ${shown(b)}): a training continues only one of the same recipe` })
    }
  }
  if (prev.epochs >= params.epochs) {
    out.push({ path: ["params", "epochs"], message: `continues ${from.id} after its ${prev.epochs} epochs, so epochs must be more than ${prev.epochs} (now ${params.epochs})` })
  }
  return out
}

export const trainKind = makeTrainKind(builtinEngines, trainParams(builtinEngines, DEFAULT_ENGINE))

export type TrainParams = Schema.Schema.Type<typeof trainKind.params>
