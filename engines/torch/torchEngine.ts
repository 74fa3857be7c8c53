/**
 * The PyTorch engine as the stages see it: its settings are the device and the Python interpreter; its identity
 * is the torch version, device and CUDA version that interpreter would run on (probe.ts, remembered on disk, so a
 * cached run starts no Python). Training and evaluation run in the worker (run.ts, worker.py).
 */
import { Effect, Schema } from "effect"
import { withDefault } from "../../ml/schemas.js"
import { EngineError, type Engine } from "../engine.js"

const TorchParams = Schema.Struct({
  /** Where to run; the device actually used is part of the key. */
  device: withDefault(Schema.Literal("auto", "cpu", "cuda").annotations({ description: "auto, cpu or cuda" }), "auto"),
  /** The Python interpreter (default: $PIPE_PYTHON, else the first of python3, /usr/bin/python3 with torch). */
  python: Schema.optionalWith(Schema.String.annotations({ description: "a path to a Python interpreter" }), { exact: true })
})

export type TorchParams = Schema.Schema.Type<typeof TorchParams>

export const torchEngine: Engine<typeof TorchParams.fields> = {
  name: "torch",
  params: TorchParams.fields,
  identity: (params) =>
    Effect.tryPromise({
      try: async () => {
        const { torchIdentity } = await import("./probe.js")
        const id = await torchIdentity(params.python, params.device)
        return { engine: "torch", torch: id.torch, device: id.device, ...(id.cuda ? { cuda: id.cuda } : {}) }
      },
      catch: (e) => new EngineError({ message: (e as Error).message })
    }),
  train: async (job) => (await import("./run.js")).trainTorch(job),
  evaluate: async (job) => (await import("./run.js")).evaluateTorch(job)
}
