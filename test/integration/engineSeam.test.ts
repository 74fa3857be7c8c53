/**
 * The engine seam: a third engine, registered only here, trains and evaluates through the real train and
 * evaluate kinds on a small synthetic image set (written as IDX files, read back into a split artifact).
 * Adding it touched two files and nothing else: test/support/nearestMeanEngine.ts (the engine) and this
 * test, whose registry is the built-in one plus that engine ({ ...engines, mean }). No kind, stage run file
 * or other engine names it.
 */
import { Effect, Either, Schema } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { engines } from "../../engines/registry.js"
import { POLICY_FORMAT, type AugmentPolicy } from "../../ml/augment.js"
import { parseIdx, writeIdx } from "../../ml/idx.js"
import { writeImageSet } from "../../ml/imageSet.js"
import { readModelConfig, readModelSummary, readTrainingRecords } from "../../ml/modelArtifact.js"
import { rng } from "../../ml/rng.js"
import type { InputArtifact, StageContext } from "../../pipelines/kind.js"
import { validate } from "../../pipelines/validate.js"
import { evaluateParams, makeEvaluateKind } from "../../stages/evaluate.js"
import { builtinKinds, makeRegistry } from "../../stages/registry.js"
import { makeTrainKind, trainParams } from "../../stages/train.js"
import { nearestMeanEngine } from "../support/nearestMeanEngine.js"

const withMean = { ...engines, mean: nearestMeanEngine }
const train = makeTrainKind(withMean, trainParams(withMean, "tfjs"))
const evaluate = makeEvaluateKind(withMean, evaluateParams(withMean, "tfjs"))
const registry = makeRegistry([...builtinKinds.filter((k) => k.kind !== "train" && k.kind !== "evaluate"), train, evaluate])

const root = mkdtempSync(join(tmpdir(), "pipe-engine-seam-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const dir = (name: string) => {
  const d = join(root, name)
  mkdirSync(d, { recursive: true })
  return d
}

/** Three classes of 28x28 images, a bright band at the top, middle or bottom, with noise; as IDX files and back. */
const part = (count: number, seed: number) => {
  const r = rng(seed)
  const labels = Uint8Array.from({ length: count }, () => r.int(3))
  const images = new Uint8Array(count * 784)
  labels.forEach((c, i) => {
    for (let p = 0; p < 784; p++) images[i * 784 + p] = (Math.floor(Math.floor(p / 28) / 10) === c ? 160 : 0) + r.int(90)
  })
  return {
    images: parseIdx(writeIdx([count, 28, 28], images), "images", 3).data,
    labels: parseIdx(writeIdx([count], labels), "labels", 1).data
  }
}

const split = dir("split")
writeImageSet(split, { name: "bands", classes: ["top", "middle", "bottom"], height: 28, width: 28, channels: 1 }, { train: part(300, 1), val: part(60, 2), test: part(90, 3) })
const augment = dir("augment")
const policy: AugmentPolicy = { format: POLICY_FORMAT, height: 28, width: 28, pad: 0, flip: 0, rotate: 0, brightness: 0, mean: 0.5, std: 0.5, seed: 0 }
writeFileSync(join(augment, "policy.json"), `${JSON.stringify(policy, null, 2)}\n`)

const doc = (trainParams: Record<string, unknown>, evaluateParams: Record<string, unknown>) => ({
  name: "seam",
  stages: {
    download: { kind: "download" },
    split: { kind: "split", needs: ["download"] },
    augment: { kind: "augment", needs: ["download"] },
    train: { kind: "train", needs: ["split", "augment"], params: trainParams },
    evaluate: { kind: "evaluate", needs: ["train", "split"], params: evaluateParams }
  }
})

const planned = (trainParams: Record<string, unknown>, evaluateParams: Record<string, unknown>) => {
  const v = validate(doc(trainParams, evaluateParams), registry)
  if (Either.isLeft(v)) throw new Error(v.left.map((d) => d.message).join("\n"))
  return v.right.stages
}

const input = (stage: string, slot: string, type: string, d: string): InputArtifact => ({ stage, slot, type, hash: `${stage}-hash`, dir: d })

const context = <P>(stageId: string, params: P, inputs: ReadonlyArray<InputArtifact>): StageContext<{}, P> & { readonly lines: Array<string> } => {
  const lines: Array<string> = []
  return {
    stageId,
    config: {},
    params,
    inputs,
    outDir: dir(`${stageId}-out`),
    metricsFile: join(root, `${stageId}-metrics.json`),
    workspace: root,
    logFile: join(root, `${stageId}.log`),
    log: (line) => lines.push(line),
    spawn: () => {
      throw new Error("the nearest-mean engine starts no program")
    },
    progress: () => {},
    echo: "none",
    lines
  }
}

describe("an engine registered only in a test", () => {
  it("is an engine param value, with its setting out of the key and its identity in it", async () => {
    const stages = planned({ engine: "mean", model: "mlp", epochs: 1, precision: "float32" }, { engine: "mean", precision: "float32" })
    const node = stages.get("train")!
    expect(node.params).toMatchObject({ engine: "mean", precision: "float32", backend: "auto", device: "auto" })
    expect(node.canonicalParams).toMatchObject({ engine: "mean", model: "mlp", epochs: 1 })
    expect(node.canonicalParams).not.toHaveProperty("precision")
    const params = Schema.decodeUnknownSync(train.params)({ engine: "mean", precision: "float32" })
    expect(await Effect.runPromise(train.engine!({}, params))).toEqual({ engine: "mean", version: "1", precision: "float32" })
    const bad = validate(doc({ engine: "nope" }, {}), registry)
    expect(Either.isLeft(bad) && bad.left.map((d) => d.message).join("\n")).toContain(`expected one of "tfjs", "torch", "mean", got "nope"`)
    const mismatched = validate(doc({ engine: "mean" }, {}), registry)
    expect(Either.isLeft(mismatched) && mismatched.left.map((d) => d.message).join("\n")).toContain(
      "'train' trains on the mean engine, so its model is evaluated on mean too; set engine: mean here (now tfjs)"
    )
  })

  it("trains and evaluates through the train and evaluate kinds, writing the model and metrics artifacts", async () => {
    const trainCtx = context("train", Schema.decodeUnknownSync(train.params)({ engine: "mean", model: "mlp", precision: "float32" }), [input("split", "split", "split", split), input("augment", "augment", "augmentation-policy", augment)])
    const trained = await Effect.runPromise((await train.load()).run(trainCtx))
    expect(trained).toMatchObject({ model: "nearest-mean", backend: "mean-float32", parameters: 3 * 784, epochs: 1 })
    expect((trained as { val_accuracy: number }).val_accuracy).toBeGreaterThan(0.9)
    const model = trainCtx.outDir
    expect(readdirSync(model).sort()).toEqual(["config.json", "means.bin", "metrics.jsonl", "policy.json", "summary.json"])
    expect(readModelConfig(model)).toMatchObject({
      model: "nearest-mean",
      engine: { engine: "mean", precision: "float32" },
      inputs: { split: "split-hash", augment: "augment-hash" },
      params: { model: "mlp", epochs: 10 }
    })
    expect(readModelConfig(model).params).not.toHaveProperty("precision")
    expect(readModelSummary(model)).not.toHaveProperty("seconds")
    expect(readTrainingRecords(model)).toHaveLength(1)

    const evalCtx = context("evaluate", Schema.decodeUnknownSync(evaluate.params)({ engine: "mean" }), [input("train", "model", "model", model), input("split", "split", "split", split)])
    const evaluated = await Effect.runPromise((await evaluate.load()).run(evalCtx))
    expect(evaluated).toMatchObject({ backend: "mean-float32", parameters: 3 * 784 })
    expect((evaluated as { test_accuracy: number }).test_accuracy).toBeGreaterThan(0.9)
    const metrics = JSON.parse(readFileSync(join(evalCtx.outDir, "metrics.json"), "utf8"))
    expect(metrics).toMatchObject({ model: "train-hash", test_images: 90, classes: ["top", "middle", "bottom"] })
    expect(existsSync(join(evalCtx.outDir, "predictions.u8"))).toBe(true)
  })

  it("evaluates a model only on the engine that trained it", async () => {
    const trainCtx = context("train2", Schema.decodeUnknownSync(train.params)({ engine: "mean" }), [input("split", "split", "split", split), input("augment", "augment", "augmentation-policy", augment)])
    await Effect.runPromise((await train.load()).run(trainCtx))
    const evalCtx = context("evaluate2", Schema.decodeUnknownSync(evaluate.params)({}), [input("train", "model", "model", trainCtx.outDir), input("split", "split", "split", split)])
    const r = await Effect.runPromise(Effect.either((await evaluate.load()).run(evalCtx)))
    expect(Either.isLeft(r) && r.left.message).toBe("train was trained on the mean engine; evaluate it on the same one (params: { engine: mean })")
  })
})
