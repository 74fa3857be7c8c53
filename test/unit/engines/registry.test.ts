/**
 * The engines train and evaluate run on: each registered under its own name, their settings out of the key and
 * their identity in it, and the shipped pipeline's train and evaluate keys as they were before the engines had
 * a contract of their own (pinned for a fixed engine identity, so they do not depend on this machine).
 */
import { Effect, Either } from "effect"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { parse } from "yaml"
import { cacheKey } from "../../../cache/fingerprint.js"
import { engines } from "../../../engines/registry.js"
import { pickBackend, tfjsVersion } from "../../../engines/tfjs/engine.js"
import { compileRefusal, torchEngineRecord } from "../../../engines/torch/torchEngine.js"
import { keyRecord } from "../../../pipelines/plan.js"
import { validate } from "../../../pipelines/validate.js"
import { evaluateKind } from "../../../stages/evaluate.js"
import { makeRegistry } from "../../../stages/registry.js"
import { trainKind } from "../../../stages/train.js"

const TFJS = { engine: "tfjs", backend: "wasm", tfjs: "4.22.0" }
const TORCH = { engine: "torch", torch: "1.13.0a0", device: "cpu" }

const keys = (set: Record<string, Record<string, unknown>>, engine: Record<string, string>) => {
  const raw = parse(readFileSync(resolve(import.meta.dirname, "../../../pipeline.yaml"), "utf8"))
  for (const [stage, params] of Object.entries(set)) raw.stages[stage].params = { ...raw.stages[stage].params, ...params }
  const p = validate(raw, makeRegistry()).pipe(Either.getOrThrow)
  return Object.fromEntries(
    ["train-mlp", "evaluate-mlp"].map((id) => {
      const node = p.stages.get(id)!
      return [id, cacheKey(keyRecord(node, { deps: {}, engine }, Object.fromEntries(node.needs.map((n) => [n, n]))))]
    })
  )
}

describe("the engine registry", () => {
  it("names each engine by its own name, and train and evaluate take those names", () => {
    for (const [name, engine] of Object.entries(engines)) expect(engine.name).toBe(name)
    expect(trainKind.unkeyedParams).toEqual(["backend", "device", "python", "precision", "compile"])
    expect(evaluateKind.unkeyedParams).toEqual(["backend", "device", "python", "precision", "compile"])
  })

  it("keys a torch run by precision only when not fp32 and by compile only when on, and refuses compile before PyTorch 2", () => {
    const cpu = { torch: "2.4.1", device: "cpu" as const }
    expect(torchEngineRecord(cpu, { precision: "auto", compile: false })).toEqual({ engine: "torch", torch: "2.4.1", device: "cpu" })
    expect(torchEngineRecord({ ...cpu, device: "cuda", cuda: "12.4" }, { precision: "auto", compile: true })).toEqual({
      engine: "torch", torch: "2.4.1", device: "cuda", cuda: "12.4", precision: "bf16", compile: "on"
    })
    expect(torchEngineRecord(cpu, { precision: "bf16", compile: false })).toMatchObject({ precision: "bf16" })
    expect(compileRefusal("2.0.0", "/usr/bin/python3")).toBeUndefined()
    expect(compileRefusal("2.5.0+cu124", "/usr/bin/python3")).toBeUndefined()
    expect(compileRefusal("1.13.0a0", "/usr/bin/python3")).toBe(
      "compile: true needs PyTorch 2.0 or later (torch.compile); /usr/bin/python3 has torch 1.13.0a0: set compile: false, or point python at an interpreter with PyTorch 2"
    )
  })

  it("gives the identity records the key has always had", async () => {
    expect(await Effect.runPromise(engines.tfjs.identity({ backend: "cpu" }))).toEqual({ engine: "tfjs", backend: "cpu", tfjs: tfjsVersion() })
    expect(await Effect.runPromise(engines.tfjs.identity({ backend: "auto" }))).toEqual({ engine: "tfjs", backend: pickBackend("auto"), tfjs: tfjsVersion() })
  })

  it("leaves the shipped pipeline's train and evaluate keys as they were", () => {
    expect(keys({}, TFJS)).toEqual({
      "train-mlp": "e8996bb4f3d155c86ee2c05d1b9f5011a3d75e188ef9784e3354a47444defb16",
      "evaluate-mlp": "1566475351c3b20f479f931549b594349af82b5be896fd3312c6ad784513a035"
    })
    // Naming the backend, device or interpreter is the same key: the identity stands for them.
    expect(keys({ "train-mlp": { backend: "wasm", device: "cuda", python: "/usr/bin/python3" }, "evaluate-mlp": { backend: "wasm" } }, TFJS)).toEqual(keys({}, TFJS))
    const torch = { engine: "torch", device: "cpu" }
    expect(keys({ "train-mlp": torch, "evaluate-mlp": torch }, TORCH)).toEqual({
      "train-mlp": "10410e64c187ee4319632b240a1a430bbe22e7f44a0e1c28682bf3138c0bc7b1",
      "evaluate-mlp": "1fd6c6dab2d0e079e6158c434978c5f5f7fd072e0ab29229999f877ac7654c8b"
    })
  })
})
