/** The alias check behind the loader and --set: it counts what toJS would build, and stays linear. */
import { Either } from "effect"
import { parseDocument } from "yaml"
import { describe, expect, it } from "vitest"
import { parseValue } from "../../../pipelines/overrides.js"
import { nodeProblems } from "../../../pipelines/yamlValues.js"

const doc = (text: string) => parseDocument(text, { resolveKnownTags: false, intAsBigInt: true })

describe("nodeProblems", () => {
  it("counts every value with each alias as a full copy, and refuses at the alias that crosses the cap", () => {
    // the map, key a, the list and its 2 items, key b, and the alias as a copy of the list: 9
    const text = "a: &a [1, 2]\nb: *a\n"
    expect(nodeProblems(doc(text), 9)).toEqual([])
    const [p, ...rest] = nodeProblems(doc(text), 8)
    expect(rest).toEqual([])
    expect(p).toMatchObject({ kind: "size", path: ["b"], offset: text.indexOf("*a") })
  })

  it("is linear in the document: 60 levels of doubling (2^60 values) are refused at once", () => {
    let text = "l0: &l0 [x, x]\n"
    for (let i = 1; i < 60; i++) text += `l${i}: &l${i} [*l${i - 1}, *l${i - 1}]\n`
    const start = performance.now()
    const problems = nodeProblems(doc(text))
    expect(performance.now() - start).toBeLessThan(1000)
    expect(problems).toHaveLength(1)
    expect(problems[0]!.kind).toBe("size")
  })

  it("resolves an alias to the latest anchor of that name before it", () => {
    const text = "a: &x [1, 2, 3, 4, 5, 6, 7, 8]\nb: &x 1\nc: *x\n"
    // the map, 3 keys, the list of 8 (9), the scalar 1, and *x as a copy of the scalar: 15
    expect(nodeProblems(doc(text), 15)).toEqual([])
  })
})

describe("parseValue", () => {
  it("reads YAML values and leaves text YAML cannot read as text", () => {
    expect(parseValue("3")).toEqual(Either.right(3))
    expect(parseValue("[1, {a: true}]")).toEqual(Either.right([1, { a: true }]))
    expect(parseValue("*.txt")).toEqual(Either.right("*.txt"))
    expect(parseValue("[1,")).toEqual(Either.right("[1,"))
    expect(parseValue("!!str 3")).toEqual(Either.right("3"))
    expect(parseValue("&a [1, *a]")).toEqual(Either.left("alias *a is inside the value it names (&a), which would make it infinite"))
    expect(parseValue("!!binary aGVsbG8=")).toEqual(Either.left("YAML tags (!!binary) are not supported here"))
  })
})
