/** `pipe status`: which stages are fresh, which would run and why; runs nothing. */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { Store } from "../cache/store.js"
import { planRun } from "../pipelines/runner.js"
import * as O from "./options.js"
import { ExitCode, setExitCode } from "./exitCodes.js"
import { checkPlan, planLines } from "./planText.js"
import { renderError } from "./render.js"

const check = Options.boolean("check").pipe(Options.withDescription("Exit 1 if any stage would run (a gate for CI)"))

export const statusCommand = Command.make(
  "status",
  { file: O.file, store: O.store, json: O.json, set: O.set, check, stages: O.stages },
  (a) =>
    Effect.gen(function* () {
      const loaded = yield* O.load(a.file, a.set, a.stages)
      yield* O.checkTargets(loaded, a.stages)
      yield* Effect.gen(function* () {
        const planned = yield* planRun(loaded, a.stages, yield* Store)
        for (const line of planLines(planned, a.json)) process.stdout.write(`${line}\n`)
        if (a.check) {
          const c = checkPlan(planned)
          if (!a.json) process.stdout.write(`${c.line}\n`)
          if (!c.ok) setExitCode(ExitCode.stageFailed)
        }
      }).pipe(Effect.provide(O.planningStore(loaded, a.store)))
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Show each stage as fresh (its output is cached), stale (it would run, and why) or pending (its key depends on an upstream stage that would run)."
  )
)
