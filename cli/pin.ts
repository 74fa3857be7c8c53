/** `pipe pin REF [--tag NAME]` and `pipe unpin REF [--tag NAME]`: runs gc keeps forever, with what made their inputs. */
import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Effect, Option } from "effect"
import { ref, runOf } from "./ref.js"
import * as O from "./options.js"
import { renderError } from "./render.js"

const out = (line: string) => process.stdout.write(`${line}\n`)

const TAG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

const tagOpt = (what: string) =>
  Options.text("tag").pipe(
    Options.withDescription(what),
    Options.mapEffect((t) =>
      TAG.test(t)
        ? Effect.succeed(t)
        : Effect.fail(
            ValidationError.invalidValue(HelpDoc.p(`pipe: a tag is letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit), got '${t}'`))
          )
    ),
    Options.optional
  )

export const pinCommand = Command.make(
  "pin",
  { file: O.file, store: O.store, json: O.json, tag: tagOpt("Also tag the run with NAME (shown by pipe runs); a run may have several tags"), ref },
  (a) =>
    Effect.gen(function* () {
      const tag = Option.getOrUndefined(a.tag)
      yield* O.withQueries(a.file, a.store, ({ q, store, pipeline }) =>
        Effect.gen(function* () {
          const r = yield* runOf(q, a.ref, pipeline)
          const was = store.pins.of([r.id]).get(r.id)
          store.pins.pin(r.id, tag)
          const now = store.pins.of([r.id]).get(r.id)!
          if (a.json) return out(JSON.stringify({ event: "pin", run: r.id, stage: r.stage, pinned: true, tags: now.tags }))
          out(
            `${was ? "run" : "pinned run"} #${r.id} (${r.stage}, ${r.status})${was && tag === undefined ? " was already pinned" : ""}` +
              (now.tags.length ? `; tags: ${now.tags.join(", ")}` : "") +
              (was ? "" : "; pipe gc keeps it and the runs that made its inputs")
          )
        })
      )
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Pin a run (a run number like #12, a stage id for its latest run, a run key or an artifact hash): pipe gc keeps it, and every run " +
      "that made its inputs, until pipe unpin. --tag NAME also names it; pipe runs shows pins and tags."
  )
)

export const unpinCommand = Command.make(
  "unpin",
  { file: O.file, store: O.store, json: O.json, tag: tagOpt("Remove only this tag (the run stays pinned while it has another pin)"), ref },
  (a) =>
    Effect.gen(function* () {
      const tag = Option.getOrUndefined(a.tag)
      yield* O.withQueries(a.file, a.store, ({ q, store, pipeline }) =>
        Effect.gen(function* () {
          const r = yield* runOf(q, a.ref, pipeline)
          const removed = store.pins.unpin(r.id, tag)
          const left = store.pins.of([r.id]).get(r.id)
          if (a.json) return out(JSON.stringify({ event: "unpin", run: r.id, stage: r.stage, removed, pinned: left !== undefined, tags: left?.tags ?? [] }))
          if (removed === 0) {
            return out(tag === undefined ? `run #${r.id} (${r.stage}) was not pinned` : `run #${r.id} (${r.stage}) has no tag ${tag}`)
          }
          out(
            left
              ? `removed tag ${tag} from run #${r.id} (${r.stage}); it stays pinned${left.tags.length ? ` (tags: ${left.tags.join(", ")})` : ""}`
              : `unpinned run #${r.id} (${r.stage}); pipe gc may remove it when nothing else keeps it`
          )
        })
      )
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(Command.withDescription("Unpin a run (all its pins, or one --tag), so pipe gc may remove it when nothing else keeps it."))
