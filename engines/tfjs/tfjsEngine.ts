/**
 * The TensorFlow.js engine as the stages see it: its one setting is the backend (`auto` takes the best one
 * installed); its identity is the backend that will actually run and the TensorFlow.js version, found without
 * loading TensorFlow.js. Training and evaluation load it (run.ts).
 */
import { Effect, Schema } from "effect"
import { withDefault } from "../../ml/schemas.js"
import { EngineError, type Engine } from "../engine.js"
import { BackendUnavailable, pickBackend, tfjsVersion } from "./engine.js"

const TfjsParams = Schema.Struct({
  backend: withDefault(
    Schema.Literal("auto", "tensorflow-gpu", "tensorflow", "wasm", "cpu").annotations({ description: "one of auto, tensorflow-gpu, tensorflow, wasm, cpu" }),
    "auto"
  )
})

export type TfjsParams = Schema.Schema.Type<typeof TfjsParams>

export const tfjsEngine: Engine<typeof TfjsParams.fields> = {
  name: "tfjs",
  params: TfjsParams.fields,
  identity: (params) =>
    Effect.try({
      try: () => ({ engine: "tfjs", backend: pickBackend(params.backend), tfjs: tfjsVersion() ?? "unknown" }),
      catch: (e) => new EngineError({ message: e instanceof BackendUnavailable ? e.message : String(e) })
    }),
  train: async (job) => (await import("./run.js")).trainTfjs(job),
  evaluate: async (job) => (await import("./run.js")).evaluateTfjs(job)
}
