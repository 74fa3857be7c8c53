/** The built-in stage kinds. A new kind is a new file in stages/ and one entry here. */
import { analyzeKind } from "./analyze.js"
import { augmentKind } from "./augment.js"
import { commandKind } from "./command.js"
import { downloadKind } from "./download.js"
import { evaluateKind } from "./evaluate.js"
import { splitKind } from "./split.js"
import { trainKind } from "./train.js"
import type { AnyStageKind, Registry } from "../pipelines/kind.js"

export const builtinKinds: ReadonlyArray<AnyStageKind> = [commandKind, downloadKind, splitKind, augmentKind, trainKind, evaluateKind, analyzeKind]

export type { Registry }

export const makeRegistry = (kinds: ReadonlyArray<AnyStageKind> = builtinKinds): Registry =>
  new Map(kinds.map((k) => [k.kind, k]))
