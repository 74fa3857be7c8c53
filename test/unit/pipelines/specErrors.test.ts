/**
 * What the user sees for malformed pipelines: each case loads a pipeline.yaml through the real loader and
 * pins the exact text `cli/render.ts` prints (file:line:col, YAML path, message, and the summary line).
 * Every file:line:col is also checked against the YAML source: `source` is the text at that position, so a
 * location that drifts off its token fails even when the message stays the same.
 */
import { Effect, Either } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { isAbsolute, join, relative } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { errorText } from "../../../cli/render.js"
import type { PipelineInvalid, UsageError } from "../../../pipelines/errors.js"
import { loadPipeline } from "../../../pipelines/loader.js"
import { parseOverride } from "../../../pipelines/overrides.js"
import { makeRegistry } from "../../../stages/registry.js"

/** Every built-in kind, as error messages list them. */
const KINDS = [...makeRegistry().keys()].join(", ")

/** Strips the first newline and the common indentation, so YAML can be indented with the test code. */
const yaml = (strings: TemplateStringsArray): string => {
  const lines = strings.join("").replace(/^\n/, "").split("\n")
  const indents = lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)![0].length)
  const cut = indents.length ? Math.min(...indents) : 0
  return lines.map((l) => l.slice(cut)).join("\n").replace(/[ ]+$/, "")
}

const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

/** How the loader names a file in messages: relative to the cwd, or absolute when outside it. */
const shownAs = (file: string): string => {
  const rel = relative(process.cwd(), file)
  return rel.startsWith("..") || isAbsolute(rel) ? file : rel
}

const load = async (text: string, sets: ReadonlyArray<string> = []) => {
  const dir = mkdtempSync(join(tmpdir(), "pipe-spec-errors-"))
  dirs.push(dir)
  const file = join(dir, "pipeline.yaml")
  writeFileSync(file, text)
  const overrides = sets.map((s) => Either.getOrThrow(parseOverride(s)))
  const result = await Effect.runPromise(Effect.either(loadPipeline(file, overrides, makeRegistry())))
  return { result, file }
}

/** The loader's failure, with the temp file's path replaced by `pipeline.yaml`. */
const failure = async (text: string, sets: ReadonlyArray<string> = []) => {
  const { result, file } = await load(text, sets)
  if (Either.isRight(result)) throw new Error("expected the pipeline to be rejected, but it loaded")
  const e: PipelineInvalid | UsageError = result.left
  if (e._tag === "PipelineInvalid") expect(e.file).toBe(shownAs(file))
  return { error: e, text: errorText(e).split(shownAs(file)).join("pipeline.yaml") }
}

/** The rest of the source line that a `pipeline.yaml:LINE:COL` location points at. */
const source = (text: string, location: string): string => {
  const m = /^pipeline\.yaml:(\d+):(\d+)$/.exec(location)
  if (!m) throw new Error(`not a file:line:col location: ${location}`)
  const line = text.split("\n")[Number(m[1]) - 1]
  if (line === undefined) throw new Error(`${location} is past the end of the file`)
  return line.slice(Number(m[2]) - 1)
}

interface Case {
  readonly name: string
  readonly yaml: string
  readonly set?: ReadonlyArray<string>
  /** The exact text errorText prints, file path replaced by pipeline.yaml. */
  readonly text: string
  /** Per problem line, what the source at its line:col starts with. */
  readonly at: ReadonlyArray<string>
}

/** Checks the printed text, then that each problem's line:col lands on the expected token. */
const check = async (c: Case) => {
  const { error, text } = await failure(c.yaml, c.set)
  expect(text).toBe(c.text)
  expect(error._tag).toBe("PipelineInvalid")
  const locations = text
    .split("\n")
    .slice(0, -1)
    .map((l) => /^(pipeline\.yaml:\d+:\d+)[ :]/.exec(l)?.[1])
  expect(locations.length).toBe(c.at.length)
  locations.forEach((loc, i) => {
    expect(loc, `problem ${i + 1} has a file:line:col`).toBeDefined()
    expect(source(c.yaml, loc!).startsWith(c.at[i]!), `${loc} points at ${JSON.stringify(source(c.yaml, loc!))}`).toBe(true)
  })
}

const cases: ReadonlyArray<Case> = [
  // ---- YAML itself ------------------------------------------------------------------------------------
  {
    name: "YAML syntax error: an unterminated flow sequence (reported where the parser gives up: end of file)",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo, "hi"
    `,
    text: [
      "pipeline.yaml:6:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: [""]
  },
  {
    name: "YAML syntax error: a key indented less than its siblings",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
         cmd: [echo]
    `,
    text: [
      "pipeline.yaml:5:1: YAML syntax error: All mapping items must start at the same column",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["   cmd: [echo]"]
  },
  {
    name: "YAML syntax error: a tab used as indentation",
    yaml: ["name: demo", "stages:", "\ta:", "    kind: command", ""].join("\n"),
    text: [
      "pipeline.yaml:3:1: YAML syntax error: Tabs are not allowed as indentation",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["\ta:"]
  },
  {
    name: "YAML syntax errors: every one is reported, in order",
    yaml: yaml`
      name: demo
      stages:
        a: {kind: command
        b: [
    `,
    text: [
      "pipeline.yaml:4:3: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }",
      "pipeline.yaml:5:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]",
      "pipeline.yaml: 2 problems; nothing ran"
    ].join("\n"),
    at: ["b: [", ""]
  },
  {
    name: "duplicate key inside a stage points at the second occurrence",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo]
          cmd: [true]
    `,
    text: ["pipeline.yaml:6:5: YAML syntax error: Map keys must be unique", "pipeline.yaml: 1 problem; nothing ran"].join("\n"),
    at: ["cmd: [true]"]
  },
  {
    name: "duplicate stage id points at the second stage",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo]
        a:
          kind: command
          cmd: [echo]
    `,
    text: ["pipeline.yaml:6:3: YAML syntax error: Map keys must be unique", "pipeline.yaml: 1 problem; nothing ran"].join("\n"),
    at: ["a:"]
  },

  // ---- top level ----------------------------------------------------------------------------------------
  {
    name: "empty document",
    yaml: "",
    text: [
      "pipeline.yaml:1:1: the file is empty; expected a map with 'name' and 'stages'",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: [""]
  },
  {
    name: "document with only a comment",
    yaml: "# nothing here\n",
    text: [
      "pipeline.yaml:1:1: the file is empty; expected a map with 'name' and 'stages'",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["# nothing here"]
  },
  {
    name: "top level is a list",
    yaml: yaml`
      - name: demo
      - stages: {}
    `,
    text: [
      "pipeline.yaml:1:1: expected a map with 'name' and 'stages', got a list of 2",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["- name: demo"]
  },
  {
    name: "top level is a scalar",
    yaml: "hello\n",
    text: [
      `pipeline.yaml:1:1: expected a map with 'name' and 'stages', got "hello"`,
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["hello"]
  },
  {
    name: "empty name points at the value",
    yaml: yaml`
      name: ""
      stages:
        a:
          kind: command
          cmd: [echo]
    `,
    text: [
      `pipeline.yaml:1:7 name: expected a non-empty pipeline name, got ""`,
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: [`""`]
  },
  {
    name: "name that is not a string",
    yaml: yaml`
      name: 3
      stages:
        a:
          kind: command
          cmd: [echo]
    `,
    text: ["pipeline.yaml:1:7 name: expected a non-empty pipeline name, got 3", "pipeline.yaml: 1 problem; nothing ran"].join(
      "\n"
    ),
    at: ["3"]
  },
  {
    name: "empty stages map",
    yaml: yaml`
      name: demo
      stages: {}
    `,
    text: ["pipeline.yaml:2:9 stages: expected at least one stage", "pipeline.yaml: 1 problem; nothing ran"].join("\n"),
    at: ["{}"]
  },
  {
    name: "stages with no value (null) points at the key",
    yaml: yaml`
      name: demo
      stages:
    `,
    text: [
      "pipeline.yaml:2:1 stages: expected a map of stage ids to stages, got null",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["stages:"]
  },
  {
    name: "stages written as a list",
    yaml: yaml`
      name: demo
      stages:
        - a
    `,
    text: [
      "pipeline.yaml:3:3 stages: expected a map of stage ids to stages, got a list of 1",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["- a"]
  },
  {
    name: "unknown top-level key with a suggestion points at the key",
    yaml: yaml`
      name: demo
      stage:
        a:
          kind: command
          cmd: [echo]
      stages:
        a:
          kind: command
          cmd: [echo]
    `,
    text: [
      "pipeline.yaml:2:1 stage: unknown key 'stage' (did you mean 'stages'?)",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["stage:"]
  },
  {
    name: "unknown top-level key with no close match lists the allowed keys",
    yaml: yaml`
      name: demo
      owner: me
      stages:
        a:
          kind: command
          cmd: [echo]
    `,
    text: [
      "pipeline.yaml:2:1 owner: unknown key 'owner'; allowed keys: name, description, stages, metric, sweeps, executor",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["owner: me"]
  },

  // ---- stages ---------------------------------------------------------------------------------------------
  {
    name: "stage id starting with a digit points at the id",
    yaml: yaml`
      name: demo
      stages:
        1st:
          kind: command
          cmd: [echo]
    `,
    text: [
      "pipeline.yaml:3:3 stages.1st: invalid stage id '1st': use letters, digits, '_' or '-', not starting with a digit",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["1st:"]
  },
  {
    name: "stage id with a space",
    yaml: yaml`
      name: demo
      stages:
        my stage:
          kind: command
          cmd: [echo]
    `,
    text: [
      "pipeline.yaml:3:3 stages.my stage: invalid stage id 'my stage': use letters, digits, '_' or '-', not starting with a digit",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["my stage:"]
  },
  {
    name: "stage that is a string, not a map",
    yaml: yaml`
      name: demo
      stages:
        a: echo hi
    `,
    text: [
      `pipeline.yaml:3:6 stages.a: expected a stage (a map with at least 'kind'), got "echo hi"`,
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["echo hi"]
  },
  {
    name: "stage with no value points at its id",
    yaml: yaml`
      name: demo
      stages:
        a:
    `,
    text: [
      "pipeline.yaml:3:3 stages.a: expected a stage (a map with at least 'kind'), got null",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["a:"]
  },
  {
    name: "missing kind points at the start of the stage's map",
    yaml: yaml`
      name: demo
      stages:
        a:
          cmd: [echo]
    `,
    text: [
      `pipeline.yaml:4:5 stages.a: missing required key 'kind'; known kinds: ${KINDS}`,
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["cmd: [echo]"]
  },
  {
    name: "unknown kind suggests the closest one",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: comand
          cmd: [echo]
    `,
    text: [
      `pipeline.yaml:4:11 stages.a.kind: unknown stage kind 'comand' (did you mean 'command'?); known kinds: ${KINDS}`,
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["comand"]
  },
  {
    name: "kind that is not a string",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: 3
          cmd: [echo]
    `,
    text: [
      `pipeline.yaml:4:11 stages.a.kind: unknown stage kind 3; known kinds: ${KINDS}`,
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["3"]
  },
  {
    name: "unknown stage key suggests the closest one and points at the key",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo]
        b:
          kind: command
          nedds: [a]
          cmd: [echo]
    `,
    text: [
      "pipeline.yaml:8:5 stages.b.nedds: unknown key 'nedds' (did you mean 'needs'?)",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["nedds:"]
  },
  {
    name: "unknown stage key with no close match lists the allowed keys",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo]
          timeout: 10
    `,
    text: [
      "pipeline.yaml:6:5 stages.a.timeout: unknown key 'timeout'; allowed keys: kind, description, needs, params, resources, cmd, deps",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["timeout:"]
  },
  {
    name: "description that is not a string",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          description: [x]
          cmd: [echo]
    `,
    text: [
      "pipeline.yaml:5:18 stages.a.description: expected a string, got a list of 1",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["[x]"]
  },

  // ---- needs ----------------------------------------------------------------------------------------------
  {
    name: "needs written as a string, not a list",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo]
        b:
          kind: command
          needs: a
          cmd: [echo]
    `,
    text: [
      `pipeline.yaml:8:12 stages.b.needs: expected a list of stage ids, got "a"`,
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["a"]
  },
  {
    name: "needs naming an unknown stage suggests the closest id",
    yaml: yaml`
      name: demo
      stages:
        prepare:
          kind: command
          cmd: [echo]
        train:
          kind: command
          needs: [prepar]
          cmd: [echo]
    `,
    text: [
      "pipeline.yaml:8:13 stages.train.needs[0]: unknown stage 'prepar' (did you mean 'prepare'?)",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["prepar]"]
  },
  {
    name: "needs naming an unknown stage never suggests the stage itself",
    yaml: yaml`
      name: demo
      stages:
        train:
          kind: command
          needs: [trian]
          cmd: [echo]
    `,
    text: ["pipeline.yaml:5:13 stages.train.needs[0]: unknown stage 'trian'", "pipeline.yaml: 1 problem; nothing ran"].join("\n"),
    at: ["trian]"]
  },
  {
    name: "needs element that is not a valid stage id",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          needs: [1x]
          cmd: [echo]
    `,
    text: [
      `pipeline.yaml:5:13 stages.a.needs[0]: expected a stage id (letters, digits, '_' or '-', not starting with a digit), got "1x"`,
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["1x]"]
  },
  {
    name: "a stage listed twice in needs points at the second mention",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo]
        b:
          kind: command
          needs: [a, a]
          cmd: [echo]
    `,
    text: ["pipeline.yaml:8:16 stages.b.needs[1]: 'a' is listed twice", "pipeline.yaml: 1 problem; nothing ran"].join("\n"),
    at: ["a]"]
  },
  {
    name: "a stage that needs itself is a one-hop cycle",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          needs: [a]
          cmd: [echo]
    `,
    text: ["pipeline.yaml:5:12 stages.a.needs: cycle: a needs a", "pipeline.yaml: 1 problem; nothing ran"].join("\n"),
    at: ["[a]"]
  },
  {
    name: "a 3-stage cycle is printed as its hops, following needs",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          needs: [b]
          cmd: [echo]
        b:
          kind: command
          needs: [c]
          cmd: [echo]
        c:
          kind: command
          needs: [a]
          cmd: [echo]
    `,
    text: ["pipeline.yaml:5:12 stages.a.needs: cycle: a needs b, b needs c, c needs a", "pipeline.yaml: 1 problem; nothing ran"].join("\n"),
    at: ["[b]"]
  },

  // ---- command fields ---------------------------------------------------------------------------------------
  {
    name: "cmd as an empty list",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: []
    `,
    text: [
      "pipeline.yaml:5:10 stages.a.cmd: expected a non-empty list of strings (program and arguments), got an empty list",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["[]"]
  },
  {
    name: "cmd as a string, not a list",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: echo hi
    `,
    text: [
      `pipeline.yaml:5:10 stages.a.cmd: expected a non-empty list of strings (program and arguments), got "echo hi"`,
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["echo hi"]
  },
  {
    name: "deps element that is an empty string",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo]
          deps: [train.py, ""]
    `,
    text: [
      `pipeline.yaml:6:22 stages.a.deps[1]: expected a non-empty string, got ""`,
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: [`""]`]
  },
  {
    name: "deps written as a string, not a list",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo]
          deps: train.py
    `,
    text: [
      `pipeline.yaml:6:11 stages.a.deps: expected a list of workspace paths, got "train.py"`,
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["train.py"]
  },
  {
    name: "${params.x} naming no param lists the params there are",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          params:
            lr: 0.1
          cmd: [python, train.py, "--epochs=\${params.epochs}"]
    `,
    text: [
      "pipeline.yaml:7:29 stages.a.cmd[2]: ${params.epochs} names no param; params are: lr",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: [`"--epochs=\${params.epochs}"`]
  },
  {
    name: "${params.x} in a stage with no params",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo, "\${params.x}"]
    `,
    text: [
      "pipeline.yaml:5:17 stages.a.cmd[1]: ${params.x} names no param; the stage has no params",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: [`"\${params.x}"`]
  },
  {
    name: "${params.x} check sees params added by --set (and still points into the file)",
    yaml: yaml`
      name: demo
      stages:
        train:
          kind: command
          cmd: [echo, "\${params.epochs}"]
    `,
    set: ["train.lr=0.1"],
    text: [
      "pipeline.yaml:5:17 stages.train.cmd[1]: ${params.epochs} names no param; params are: lr",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: [`"\${params.epochs}"`]
  },
  {
    name: "params as a list, not a map",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          params: [1, 2]
          cmd: [echo]
    `,
    text: [
      "pipeline.yaml:5:13 stages.a.params: expected a map of parameter names to values, got a list of 2",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["[1, 2]"]
  },
  {
    name: "params as a scalar, not a map",
    yaml: yaml`
      name: demo
      stages:
        a:
          kind: command
          params: 5
          cmd: [echo]
    `,
    text: [
      "pipeline.yaml:5:13 stages.a.params: expected a map of parameter names to values, got 5",
      "pipeline.yaml: 1 problem; nothing ran"
    ].join("\n"),
    at: ["5"]
  },

  // ---- several problems at once -------------------------------------------------------------------------------
  {
    name: "several problems are all reported at once, sorted by line (not by discovery order)",
    // Discovery order is: top-level keys (bogus, name), then stages in declaration order (b, a, c).
    yaml: yaml`
      name: ""
      stages:
        b:
          kind: command
          cmd: []
        a:
          kind: comand
          cmd: [echo]
        c:
          kind: command
          cmd: [echo]
          extra: 1
      bogus: 1
    `,
    text: [
      `pipeline.yaml:1:7 name: expected a non-empty pipeline name, got ""`,
      "pipeline.yaml:5:10 stages.b.cmd: expected a non-empty list of strings (program and arguments), got an empty list",
      `pipeline.yaml:7:11 stages.a.kind: unknown stage kind 'comand' (did you mean 'command'?); known kinds: ${KINDS}`,
      "pipeline.yaml:12:5 stages.c.extra: unknown key 'extra'; allowed keys: kind, description, needs, params, resources, cmd, deps",
      "pipeline.yaml:13:1 bogus: unknown key 'bogus'; allowed keys: name, description, stages, metric, sweeps, executor",
      "pipeline.yaml: 5 problems; nothing ran"
    ].join("\n"),
    at: [`""`, "[]", "comand", "extra:", "bogus:"]
  },
  {
    name: "schema, wiring and placeholder problems from different stages are reported together, sorted by line",
    // The cycle (x <-> y) is found after every needs list is checked; it still sorts by its line.
    yaml: yaml`
      name: demo
      stages:
        x:
          kind: command
          needs: [y]
          cmd: [echo]
        y:
          kind: command
          needs: [x, x, perpare]
          cmd: [echo, "\${params.n}"]
        prepare:
          kind: command
          cmd: [echo]
          deps: [""]
    `,
    text: [
      "pipeline.yaml:5:12 stages.x.needs: cycle: x needs y, y needs x",
      "pipeline.yaml:9:16 stages.y.needs[1]: 'x' is listed twice",
      "pipeline.yaml:9:19 stages.y.needs[2]: unknown stage 'perpare' (did you mean 'prepare'?)",
      "pipeline.yaml:10:17 stages.y.cmd[1]: ${params.n} names no param; the stage has no params",
      `pipeline.yaml:14:12 stages.prepare.deps[0]: expected a non-empty string, got ""`,
      "pipeline.yaml: 5 problems; nothing ran"
    ].join("\n"),
    at: ["[y]", "x, perpare]", "perpare]", `"\${params.n}"`, `""]`]
  }
]

describe("malformed pipeline.yaml: the exact text the user sees", () => {
  for (const c of cases) it(c.name, () => check(c))
})

describe("problems as data (what --json prints)", () => {
  it("carries file, location, path and message separately", async () => {
    const { error } = await failure(yaml`
      name: demo
      stages:
        a:
          kind: comand
          cmd: [echo]
    `)
    expect(error._tag).toBe("PipelineInvalid")
    const problems = (error as PipelineInvalid).problems.map((p) => ({ ...p, location: p.location.replace(/^.*:(\d+:\d+)$/, "pipeline.yaml:$1") }))
    expect(problems).toEqual([
      {
        location: "pipeline.yaml:4:11",
        path: "stages.a.kind",
        message: `unknown stage kind 'comand' (did you mean 'command'?); known kinds: ${KINDS}`
      }
    ])
  })
})

describe("--set overrides", () => {
  const base = yaml`
    name: demo
    stages:
      train:
        kind: command
        cmd: [echo]
  `

  it("naming an unknown stage is a UsageError that suggests the closest stage", async () => {
    const { error, text } = await failure(base, ["trian.lr=0.1"])
    expect(error._tag).toBe("UsageError")
    expect(text).toBe("pipe: --set trian.lr=0.1: unknown stage 'trian' (did you mean 'train'?)")
  })

  it("naming an unknown stage with no close match gives no suggestion", async () => {
    const { error, text } = await failure(base, ["evaluate.k=3"])
    expect(error._tag).toBe("UsageError")
    expect(text).toBe("pipe: --set evaluate.k=3: unknown stage 'evaluate'")
  })

  it("the override's usage error is reported before problems in the file", async () => {
    const { error, text } = await failure(
      yaml`
        name: demo
        stages:
          train:
            kind: command
            cmd: []
      `,
      ["trian.lr=0.1"]
    )
    expect(error._tag).toBe("UsageError")
    expect(text).toBe("pipe: --set trian.lr=0.1: unknown stage 'trian' (did you mean 'train'?)")
  })

  it.each(["train.lr", "train=1", "lr=0.1", ".lr=1", "1st.lr=1", "train.=1", ""])(
    "a malformed --set %j is rejected by parseOverride with the expected form",
    (text) => {
      const r = parseOverride(text)
      expect(Either.isLeft(r)).toBe(true)
      const e = Either.getLeft(r).pipe((o) => (o._tag === "Some" ? o.value : undefined))!
      expect(e._tag).toBe("UsageError")
      expect(errorText(e)).toBe(`pipe: --set ${text}: expected STAGE.PARAM=VALUE, e.g. --set train.lr=0.001`)
    }
  )

  it("a well-formed --set parses its value as a YAML scalar", () => {
    expect(parseOverride("train.lr=0.1")).toEqual(Either.right({ stage: "train", param: "lr", value: 0.1, text: "train.lr=0.1" }))
    expect(parseOverride("train.opt.name=adam")).toEqual(
      Either.right({ stage: "train", param: "opt.name", value: "adam", text: "train.opt.name=adam" })
    )
  })
})

describe("pipeline file itself", () => {
  it("a file that does not exist is a UsageError naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pipe-spec-errors-"))
    dirs.push(dir)
    const file = join(dir, "pipeline.yaml")
    const r = await Effect.runPromise(Effect.either(loadPipeline(file, [], makeRegistry())))
    expect(Either.isLeft(r)).toBe(true)
    const e = Either.getLeft(r).pipe((o) => (o._tag === "Some" ? o.value : undefined))!
    expect(e._tag).toBe("UsageError")
    expect(errorText(e).split(shownAs(file)).join("pipeline.yaml")).toBe(
      "pipe: pipeline.yaml: no such pipeline file; create pipeline.yaml here or pass -f FILE"
    )
  })

  it("a valid pipeline loads (the helper's baseline)", async () => {
    const { result } = await load(yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo]
    `)
    expect(Either.isRight(result)).toBe(true)
  })
})

/** Regression tests: each states the text the user should see. */
describe("messages that once showed schema internals or the wrong place", () => {
  it("missing name: says what a name is, without schema internals", async () => {
    const { text } = await failure(yaml`
      stages:
        a:
          kind: command
          cmd: [echo]
    `)
    expect(text).toBe(
      ["pipeline.yaml:1:1 name: missing required key 'name' (a non-empty pipeline name)", "pipeline.yaml: 1 problem; nothing ran"].join("\n")
    )
  })

  it("missing stages: says what stages are, without schema internals", async () => {
    const { text } = await failure("name: demo\n")
    expect(text).toBe(
      [
        "pipeline.yaml:1:1 stages: missing required key 'stages' (a map of stage ids to stages)",
        "pipeline.yaml: 1 problem; nothing ran"
      ].join("\n")
    )
  })

  it("missing cmd: says what cmd is, without schema internals", async () => {
    const { text } = await failure(yaml`
      name: demo
      stages:
        a:
          kind: command
    `)
    expect(text).toBe(
      [
        "pipeline.yaml:4:5 stages.a.cmd: missing required key 'cmd' (a non-empty list of strings (program and arguments))",
        "pipeline.yaml: 1 problem; nothing ran"
      ].join("\n")
    )
  })

  it("a non-string cmd element is reported at that element", async () => {
    const { text } = await failure(yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo, 42]
    `)
    expect(text).toBe(
      ["pipeline.yaml:5:17 stages.a.cmd[1]: expected a non-empty string, got 42", "pipeline.yaml: 1 problem; nothing ran"].join("\n")
    )
  })

  it("an empty-string cmd element is reported at that element", async () => {
    const { text } = await failure(yaml`
      name: demo
      stages:
        a:
          kind: command
          cmd: [echo, ""]
    `)
    expect(text).toBe(
      [`pipeline.yaml:5:17 stages.a.cmd[1]: expected a non-empty string, got ""`, "pipeline.yaml: 1 problem; nothing ran"].join("\n")
    )
  })

  it("--set on a stage does not hide that its params in the file are not a map", async () => {
    const { text } = await failure(
      yaml`
        name: demo
        stages:
          a:
            kind: command
            params: [1, 2]
            cmd: [echo]
      `,
      ["a.lr=1"]
    )
    expect(text).toBe(
      [
        "pipeline.yaml:5:13 stages.a.params: expected a map of parameter names to values, got a list of 2",
        "pipeline.yaml: 1 problem; nothing ran"
      ].join("\n")
    )
  })
})
