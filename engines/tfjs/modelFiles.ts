/**
 * A model on disk as TensorFlow.js writes it: model.json (topology + weights manifest) and weights.bin,
 * saved and loaded through in-memory IO handlers so no file:// handler (tfjs-node) is needed.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { Tf } from "./engine.js"
import { seededDropoutClass } from "./seededDropout.js"

type LayersModel = ReturnType<Tf["model"]>

export const saveModel = async (tf: Tf, model: LayersModel, dir: string): Promise<void> => {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData as ArrayBuffer
      writeFileSync(join(dir, "weights.bin"), Buffer.from(weights))
      const json = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }]
      }
      writeFileSync(join(dir, "model.json"), `${JSON.stringify(json)}\n`)
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: "JSON" } }
    })
  )
}

export const loadModel = async (tf: Tf, dir: string): Promise<LayersModel> => {
  const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")) as {
    modelTopology: object
    weightsManifest: Array<{ weights: Array<never> }>
  }
  seededDropoutClass(tf)
  const bin = readFileSync(join(dir, "weights.bin"))
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength)
  return (await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0]!.weights, weightData })
  )) as LayersModel
}
