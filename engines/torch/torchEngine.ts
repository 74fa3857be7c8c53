/**
 * The PyTorch engine as the stages see it: its settings are the device, the Python interpreter, the precision and compile;
 * its identity is the torch version, device, CUDA version, precision (when not fp32) and compile (when on) that interpreter would run on (probe.ts, remembered on disk, so a
 * cached run starts no Python). Training and evaluation run in the worker (run.ts, worker.py).
 */
import { Effect, Schema } from "effect"
import { withDefault } from "../../ml/schemas.js"
import { EngineError, type Engine } from "../engine.js"

const TorchParams = Schema.Struct({
  /** Where to run; the device actually used is part of the key. */
  device: withDefault(Schema.Literal("auto", "cpu", "cuda").annotations({ description: "auto, cpu or cuda" }), "auto"),
  /** The Python interpreter (default: $PIPE_PYTHON, else the first of python3, /usr/bin/python3 with torch). */
  python: Schema.optionalWith(Schema.String.annotations({ description: "a path to a Python interpreter" }), { exact: true }),
  /** Arithmetic: bf16 autocast, or fp32; auto is bf16 on a CUDA GPU and fp32 on a CPU. Part of the key when not fp32. */
  precision: withDefault(Schema.Literal("auto", "fp32", "bf16").annotations({ description: "auto, fp32 or bf16" }), "auto"),
  /** torch.compile the model for training and evaluation (PyTorch 2.0 or later). Part of the key when on. */
  compile: withDefault(Schema.Boolean.annotations({ description: "true or false" }), false)
})

/** The precision a run on `device` uses: auto is bf16 on CUDA (where it is fast and safe), fp32 on a CPU. */
export const precisionOn = (precision: "auto" | "fp32" | "bf16", device: "cpu" | "cuda"): "fp32" | "bf16" =>
  precision === "auto" ? (device === "cuda" ? "bf16" : "fp32") : precision

export type TorchParams = Schema.Schema.Type<typeof TorchParams>

/** Why `compile: true` cannot run on torch `version` (torch.compile came with PyTorch 2.0), or undefined when it can. */
export const compileRefusal = (version: string, python: string): string | undefined => {
  const major = Number.parseInt(version, 10)
  return Number.isFinite(major) && major >= 2
    ? undefined
    : `compile: true needs PyTorch 2.0 or later (torch.compile); ${python} has torch ${version}: set compile: false, or point python at an interpreter with PyTorch 2`
}

/** What a torch run is keyed by and recorded with: fp32 and no compile are how every earlier torch run computed, so
 * they add nothing and the keys of those runs stay. */
export const torchEngineRecord = (id: { torch: string; device: "cpu" | "cuda"; cuda?: string | null | undefined }, params: Pick<TorchParams, "precision" | "compile">) => {
  const precision = precisionOn(params.precision, id.device)
  return {
    engine: "torch",
    torch: id.torch,
    device: id.device,
    ...(id.cuda ? { cuda: id.cuda } : {}),
    ...(precision !== "fp32" ? { precision } : {}),
    ...(params.compile ? { compile: "on" } : {})
  }
}

export const torchEngine: Engine<typeof TorchParams.fields> = {
  name: "torch",
  params: TorchParams.fields,
  identity: (params) =>
    Effect.tryPromise({
      try: async () => {
        const { torchIdentity } = await import("./probe.js")
        const id = await torchIdentity(params.python, params.device)
        const refusal = params.compile ? compileRefusal(id.torch, id.python) : undefined
        if (refusal) throw new Error(refusal)
        return torchEngineRecord(id, params)
      },
      catch: (e) => new EngineError({ message: (e as Error).message })
    }),
  train: async (job) => (await import("./run.js")).trainTorch(job),
  evaluate: async (job) => (await import("./run.js")).evaluateTorch(job)
}
