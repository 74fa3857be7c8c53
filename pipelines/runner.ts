/**
 * Executing a pipeline: stages in topological order; each is decided (pipelines/plan.ts) once its inputs are
 * known, then restored from the cache or run under its key's lock. A failed stage's dependents are skipped;
 * independent branches still run. Another process running the same key is waited for, then its result reused.
 */
import { Effect } from "effect"
import { Store, type StoreApi } from "../cache/store.js"
import { cacheView } from "./view.js"
import { upstreamClosure } from "./dag.js"
import type { PipelineInvalid } from "./errors.js"
import type { Reporter, StageEvent, StageStatus, Summary } from "./events.js"
import { Executor } from "./executor.js"
import { gatherFacts } from "./facts.js"
import type { Loaded } from "./loader.js"
import { decide, plan, type Decision } from "./plan.js"
import type { StageMetrics } from "./kind.js"

export interface RunOptions {
  readonly loaded: Loaded
  /** Run these and their upstream; empty means every stage. */
  readonly targets: ReadonlyArray<string>
  /** Rerun even if cached: the named targets, or every stage when none is named. */
  readonly force: boolean
  readonly reporter: Reporter
  /** Echo each running stage's output live (--verbose). */
  readonly echo?: "none" | "stdout" | "stderr"
  /** Wraps each stage execution, e.g. to limit how many stages of one kind run at once. */
  readonly gate?: (kind: string) => <A, E, R>(run: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const selection = (loaded: Loaded, targets: ReadonlyArray<string>): ReadonlySet<string> => {
  if (targets.length === 0) return new Set(loaded.pipeline.order)
  const needs = new Map([...loaded.pipeline.stages].map(([id, s]) => [id, s.needs]))
  return upstreamClosure(needs, targets)
}

/**
 * What `pipe run` would do now against `store`, running nothing: the plan of the targets and their upstream
 * (every stage when none), with `force` applying to the targets as in a run.
 */
export const planRun = (loaded: Loaded, targets: ReadonlyArray<string>, store: StoreApi, force = false) =>
  Effect.gen(function* () {
    const selected = selection(loaded, targets)
    const facts = yield* gatherFacts(loaded, selected, store)
    return plan(loaded.pipeline, selected, facts, cacheView(store, loaded.pipeline.name), force, targets)
  })

const POLL_MS = 200

export const runPipeline = (opts: RunOptions): Effect.Effect<Summary, PipelineInvalid, Store | Executor> =>
  Effect.gen(function* () {
    const t0 = Date.now()
    const store = yield* Store
    const executor = yield* Executor
    const { loaded, reporter } = opts
    const pipeline = loaded.pipeline
    const selected = selection(loaded, opts.targets)
    const facts = yield* gatherFacts(loaded, selected, store)
    const view = cacheView(store, pipeline.name)
    const outputs = new Map<string, string>()
    // The figures (timings among them) of the run each stage's output came from, ran or restored, for the stages that read it.
    const upstream = new Map<string, { run?: number; metrics?: StageMetrics }>()
    const status = new Map<string, StageStatus>()
    const counts = { ran: 0, cached: 0, failed: 0, skipped: 0 }

    const finish = (e: StageEvent) => {
      status.set(e.stage, e.status)
      counts[e.status]++
      if (e.output) outputs.set(e.stage, e.output)
      // The run each stage's output came from (ran or restored) and its figures (timings among them), for the
      // stages that read it to show (a report's table and provenance).
      if (e.output) {
        upstream.set(e.stage, {
          ...(e.run !== undefined ? { run: e.run } : {}),
          ...(e.metrics ? { metrics: e.metrics as StageMetrics } : {})
        })
      }
      reporter.finished(e)
    }

    const restore = (id: string, d: Extract<Decision, { _tag: "Cached" }>, reason: string) => {
      if (view.head(id)?.id !== d.run.id) store.records.setHead(pipeline.name, id, d.run.id)
      finish({
        stage: id,
        status: "cached",
        key: d.key,
        reason,
        ms: 0,
        run: d.run.id,
        output: d.output,
        ...(d.run.metrics ? { metrics: d.run.metrics } : {})
      })
    }

    for (const id of pipeline.order) {
      if (!selected.has(id)) continue
      const node = pipeline.stages.get(id)!
      const blocked = node.needs.find((n) => status.get(n) === "failed" || status.get(n) === "skipped")
      if (blocked) {
        const how = status.get(blocked) === "failed" ? "failed" : "was skipped"
        finish({ stage: id, status: "skipped", key: null, reason: `needs ${blocked}, which ${how}`, ms: 0 })
        continue
      }
      const force = opts.force && (opts.targets.length === 0 || opts.targets.includes(id))
      const d = decide(node, facts.get(id)!, outputs, view, force)
      if (d._tag === "Blocked") throw new Error(`bug: ${id} planned before ${d.on.join(", ")}`)
      if (d._tag === "Cached") {
        restore(id, d, d.note)
        continue
      }

      // Run under the key's lock; if another process holds it, wait, then look again: it may have produced it.
      const event = yield* Effect.scoped(
        Effect.gen(function* () {
          let waited = false
          for (;;) {
            const holder = store.locks.tryAcquire(d.key, id)
            if (!holder) break
            if (!waited) reporter.waiting(id, holder.pid)
            waited = true
            yield* Effect.sleep(POLL_MS)
          }
          yield* Effect.addFinalizer(() => Effect.sync(() => store.locks.release(d.key)))
          // Look again even without waiting: another process may have finished between our look and our lock.
          if (!force) {
            const again = decide(node, facts.get(id)!, outputs, view, false)
            if (again._tag === "Cached") return { cached: again } as const
          }
          if (d.damagedOutput) {
            store.repair(d.damagedOutput)
            // Marked even if it checks intact now: the plan found it damaged, and this run replaces it.
            store.records.markDamaged(d.damagedOutput)
          }
          reporter.started(id, d.reason)
          const started = Date.now()
          const exec = executor.execute({
            pipeline: pipeline.name,
            workspace: loaded.workspace,
            node,
            key: d.key,
            record: d.record,
            reason: d.reason,
            forced: force,
            inputs: new Map(node.needs.map((n) => [n, outputs.get(n)!])),
            upstream,
            echo: opts.echo ?? "none",
            events: (e) => (e._tag === "log" ? reporter.log?.(e.stage, e.line) : reporter.progress?.(e.stage, e.line))
          })
          const result = yield* (opts.gate ? opts.gate(node.kind.kind)(exec) : exec).pipe(Effect.either)
          const ms = Date.now() - started
          return {
            event:
              result._tag === "Right"
                ? ({
                    stage: id,
                    status: "ran",
                    key: d.key,
                    reason: d.reason,
                    ms,
                    run: result.right.runId,
                    output: result.right.output,
                    log: result.right.logPath,
                    ...(result.right.metrics ? { metrics: result.right.metrics } : {})
                  } satisfies StageEvent)
                : ({ stage: id, status: "failed", key: d.key, reason: d.reason, ms, run: result.left.runId, error: result.left.message, log: result.left.logPath } satisfies StageEvent)
          } as const
        })
      )
      if (event.cached) restore(id, event.cached, `produced meanwhile by another run (run #${event.cached.run.id})`)
      else if (event.event) finish(event.event)
    }
    return { ...counts, ms: Date.now() - t0 }
  })
