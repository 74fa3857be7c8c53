/** `pipe run`: load, plan, execute; print why each stage ran. `--dry-run` prints the plan only. */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { expLabel } from "../cache/experiments.js"
import { Store } from "../cache/store.js"
import type { StageEvent } from "../pipelines/events.js"
import { commandLine, experimentOf } from "../pipelines/experiment.js"
import { planRun, runPipeline } from "../pipelines/runner.js"
import { ExitCode, setExitCode } from "./exitCodes.js"
import { localExecutor } from "../pipelines/localExecutor.js"
import { executorLayer, executorOptions } from "./executors.js"
import * as O from "./options.js"
import { renderError } from "./render.js"
import { jsonReporter, summaryText, textReporter } from "./reporters.js"
import { checkPlan, planLines } from "./planText.js"

const force = Options.boolean("force").pipe(Options.withDescription("Rerun even if cached: the named stages (their upstream stays cached), or all stages when none is named"))
const dryRun = Options.boolean("dry-run").pipe(Options.withDescription("Print what would run and why; run nothing"))
const check = Options.boolean("check").pipe(
  Options.withDescription("Run nothing; exit 1 if any stage would run (a gate for CI), after printing the plan")
)
const verbose = Options.boolean("verbose").pipe(
  Options.withAlias("v"),
  Options.withDescription("Show each running stage's output live (on stderr with --json); it is always in the run's log")
)

const out = (line: string) => process.stdout.write(`${line}\n`)
const err = (line: string) => process.stderr.write(`${line}\n`)

export const runCommand = Command.make(
  "run",
  { file: O.file, store: O.store, json: O.json, set: O.set, force, dryRun, check, verbose, name: O.expName, tag: O.expTags, ...executorOptions, stages: O.stages },
  (a) =>
    Effect.gen(function* () {
      const name = Option.getOrUndefined(a.name)
      yield* O.checkExpWords(a.name, a.tag)
      const loaded = yield* O.load(a.file, a.set, a.stages)
      // A plan (--dry-run, --check) runs nothing, so it needs no executor: the remote is not even opened.
      const executor = a.dryRun || a.check ? localExecutor : (yield* executorLayer(a, loaded, a.store)).layer
      yield* O.checkTargets(loaded, a.stages)
      yield* Effect.gen(function* () {
        if (a.dryRun || a.check) {
          const planned = yield* planRun(loaded, a.stages, yield* Store, a.force)
          for (const line of planLines(planned, a.json)) out(line)
          if (a.check) {
            const c = checkPlan(planned)
            if (!a.json) (c.ok ? out : err)(c.line)
            if (!c.ok) setExitCode(ExitCode.stageFailed)
          }
          return
        }
        const echo = !a.verbose ? "none" : a.json ? "stderr" : "stdout"
        const shown = a.json ? jsonReporter(out, err, echo) : textReporter(out, err, echo)
        // The stage events also make the experiment this run is.
        const events: Array<StageEvent> = []
        const reporter = { ...shown, finished: (e: StageEvent) => (events.push(e), shown.finished(e)) }
        const summary = yield* runPipeline({ loaded, targets: a.stages, force: a.force, reporter, echo })
        const store = yield* Store
        const exp = store.experiments.record(experimentOf(loaded, events, { name, tags: a.tag, command: commandLine() }))
        if (a.json) out(JSON.stringify({ event: "summary", ...summary, experiment: exp.id }))
        else out(`${summaryText(summary)} · experiment ${expLabel(exp.id)}${name !== undefined ? ` (${name})` : ""}`)
        if (summary.failed > 0) setExitCode(ExitCode.stageFailed)
      }).pipe(Effect.provide(a.dryRun || a.check ? O.planningStore(loaded, a.store) : O.withStore(loaded, a.store)), Effect.provide(executor))
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Run the pipeline: each stage runs only if no earlier run has the same key (kind, params, deps, input hashes); " +
      "otherwise its stored output is reused. Prints why each stage ran. Exit 1 if a stage failed (with --check: if any stage would run), 2 if the pipeline is invalid, 3 if the store cannot be used."
  )
)
