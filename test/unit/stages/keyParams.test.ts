/** Writing out a default that depends on another param (a model's own dropout) leaves the key as it was. */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { validate } from "../../../pipelines/validate.js"
import { makeRegistry } from "../../../stages/registry.js"

const trainParams = (params: Record<string, unknown>) => {
  const raw = {
    name: "k",
    stages: {
      download: { kind: "download" },
      split: { kind: "split", needs: ["download"] },
      augment: { kind: "augment", needs: ["download"] },
      train: { kind: "train", needs: ["split", "augment"], params }
    }
  }
  const v = validate(raw, makeRegistry())
  if (Either.isLeft(v)) throw new Error(JSON.stringify(v.left))
  return v.right.stages.get("train")!.canonicalParams
}

describe("train's key params", () => {
  it("are the same with the model's default dropout written out or not", () => {
    expect(trainParams({ model: "mlp", dropout: 0 })).toEqual(trainParams({ model: "mlp" }))
    expect(trainParams({ model: "resnet18", dropout: 0.3 })).toEqual(trainParams({ model: "resnet18" }))
  })

  it("differ for any other dropout", () => {
    expect(trainParams({ model: "mlp", dropout: 0.3 })).not.toEqual(trainParams({ model: "mlp" }))
    expect(trainParams({ model: "resnet18", dropout: 0 })).not.toEqual(trainParams({ model: "resnet18" }))
    expect(trainParams({ model: "mlp", dropout: 0.3 })).toMatchObject({ dropout: 0.3 })
  })
})
