/** Gathers what planning needs from outside the pipeline file: hashes of deps, and engine identities. */
import { Effect } from "effect"
import { existsSync, realpathSync } from "node:fs"
import { DepMissing } from "../cache/statCache.js"
import type { StoreApi } from "../cache/store.js"
import { PipelineInvalid } from "./errors.js"
import type { Loaded } from "./loader.js"
import type { StageFacts } from "./plan.js"

export const gatherFacts = (
  loaded: Loaded,
  ids: Iterable<string>,
  store: StoreApi
): Effect.Effect<Map<string, StageFacts>, PipelineInvalid> =>
  Effect.gen(function* () {
    const facts = new Map<string, StageFacts>()
    // Stages often share deps (a library directory): hash each once per run.
    const hashed = new Map<string, string>()
    const storeReal = existsSync(store.root) ? realpathSync(store.root) : store.root
    for (const id of ids) {
      const node = loaded.pipeline.stages.get(id)!
      const deps: Record<string, string> = {}
      for (const [name, hash] of Object.entries(node.kind.sources ?? {})) deps[`source:${name}`] = hash
      for (const [i, dep] of node.deps.entries()) {
        try {
          let h = hashed.get(dep)
          if (h === undefined) hashed.set(dep, (h = store.stats.hashPath(loaded.workspace, dep, storeReal)))
          deps[dep] = h
        } catch (e) {
          if (!(e instanceof DepMissing)) throw e
          const path = ["stages", id, "deps", i]
          return yield* new PipelineInvalid({
            file: loaded.display,
            problems: [{ location: loaded.locate(path), path: `stages.${id}.deps[${i}]`, message: e.message }]
          })
        }
      }
      const engine = node.kind.engine
        ? yield* node.kind.engine(node.config, node.params).pipe(
            Effect.mapError(
              (e) =>
                new PipelineInvalid({
                  file: loaded.display,
                  problems: [{ location: loaded.locate(["stages", id]), path: `stages.${id}`, message: e.message }]
                })
            )
          )
        : null
      facts.set(id, { deps, engine })
    }
    return facts
  })
