import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { canonicalJson } from "../../../artifacts/canonical.js"
import { cacheKey, explainChange, KEY_VERSION, type KeyRecord } from "../../../cache/fingerprint.js"
import { keyRecord } from "../../../pipelines/plan.js"
import { validate } from "../../../pipelines/validate.js"
import { testRegistry } from "../../support/kinds.js"

const record: KeyRecord = {
  v: 1,
  kind: "command",
  kindVersion: 1,
  config: { cmd: ["python", "train.py", "--lr", "${params.lr}"], deps: ["train.py"] },
  params: { lr: 0.001, epochs: 3, model: { name: "mlp", hidden: [128] } },
  deps: { "train.py": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" },
  inputs: { split: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752" },
  engine: null
}

describe("cache key", () => {
  it("is the sha256 of the canonical record (golden digest)", () => {
    expect(KEY_VERSION).toBe(1)
    expect(canonicalJson(record)).toBe(
      '{"config":{"cmd":["python","train.py","--lr","${params.lr}"],"deps":["train.py"]},' +
        '"deps":{"train.py":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},"engine":null,' +
        '"inputs":{"split":"60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"},"kind":"command",' +
        '"kindVersion":1,"params":{"epochs":3,"lr":0.001,"model":{"hidden":[128],"name":"mlp"}},"v":1}'
    )
    expect(cacheKey(record)).toBe("5a19101b9fcd57f95529ef2dff2e6bd110ce713122c7d3a22c1b03f0ca5e8096")
  })

  it("does not depend on the order fields or params are written in", () => {
    const reordered: KeyRecord = {
      engine: null,
      inputs: { ...record.inputs },
      deps: { ...record.deps },
      params: { model: { hidden: [128], name: "mlp" }, epochs: 3, lr: 0.001 },
      config: { deps: ["train.py"], cmd: ["python", "train.py", "--lr", "${params.lr}"] },
      kindVersion: 1,
      kind: "command",
      v: 1
    }
    expect(cacheKey(reordered)).toBe(cacheKey(record))
  })

  it("changes with every field", () => {
    const variants: Array<Partial<KeyRecord>> = [
      { v: 2 },
      { kind: "other" },
      { kindVersion: 2 },
      { config: { cmd: ["python", "train2.py"] } },
      { params: { ...(record.params as object), lr: 0.01 } },
      { deps: { "train.py": "00" } },
      { inputs: { split: "00" } },
      { engine: { backend: "wasm" } }
    ]
    const keys = new Set(variants.map((v) => cacheKey({ ...record, ...v })))
    expect(keys.size).toBe(variants.length)
    expect(keys.has(cacheKey(record))).toBe(false)
  })

  it("explains what changed, field by field", () => {
    const next: KeyRecord = {
      ...record,
      kindVersion: 2,
      params: { lr: 0.01, epochs: 3, model: { name: "resnet18", hidden: [128] }, seed: 1 },
      deps: { "train.py": "00", "data.csv": "11" },
      inputs: { split: "00", augment: "aa" },
      engine: { backend: "wasm" }
    }
    expect(explainChange(record, next)).toEqual([
      "command implementation changed (version 1 -> 2)",
      'params changed: lr 0.001 -> 0.01, model.name "mlp" -> "resnet18", seed (new) = 1',
      "dep added: data.csv",
      "dep changed: train.py",
      "input augment added",
      "input split changed",
      'engine changed: backend (new) = "wasm"'
    ])
    expect(explainChange(record, record)).toEqual([])
  })
})

describe("canonical params", () => {
  const keyOf = (doc: unknown, stage: string) => {
    const p = validate(doc, testRegistry).pipe(Either.getOrThrow)
    const node = p.stages.get(stage)!
    return cacheKey(keyRecord(node, { deps: {}, engine: null }, { data: "aa", policy: "bb" }))
  }
  const doc = (params: Record<string, unknown> | undefined) => ({
    name: "p",
    stages: {
      data: { kind: "make-data" },
      split: { kind: "split-data", needs: ["data"] },
      policy: { kind: "augment-policy" },
      train: { kind: "train-model", needs: ["split", "policy"], ...(params ? { params } : {}) }
    }
  })

  it("writing a default explicitly does not change the key", () => {
    const implicit = keyOf(doc(undefined), "train")
    expect(keyOf(doc({ epochs: 1 }), "train")).toBe(implicit)
    expect(keyOf(doc({ lr: 0.001, epochs: 1 }), "train")).toBe(implicit)
    expect(keyOf(doc({ epochs: 2 }), "train")).not.toBe(implicit)
  })

  it("param order does not change the key", () => {
    expect(keyOf(doc({ lr: 0.01, epochs: 2 }), "train")).toBe(keyOf(doc({ epochs: 2, lr: 0.01 }), "train"))
  })
})
