/**
 * The `download` kind: Fashion-MNIST's official training and test sets as an image-set artifact. Files come
 * from a directory (params.dir, $FASHION_MNIST_DIR, Debian's dataset-fashion-mnist, pipe's download cache)
 * or the official URL, and are verified against the published checksums before use. Where they were found
 * is not part of the key; the checksums are.
 */
import { Schema } from "effect"
import { defineKind } from "../pipelines/kind.js"
import { FILES } from "../ml/fashionMnist.js"

import { PositiveInt } from "../ml/schemas.js"

const DownloadParams = Schema.Struct({
  source: Schema.optionalWith(
    Schema.Literal("auto", "dir", "url").annotations({ description: "one of auto, dir, url" }),
    { default: () => "auto" as const }
  ),
  dir: Schema.optionalWith(Schema.String.annotations({ description: "a directory with the *-ubyte(.gz) files" }), {
    exact: true
  }),
  url: Schema.optionalWith(Schema.String.annotations({ description: "a base URL" }), { exact: true }),
  limit: Schema.optionalWith(PositiveInt, { exact: true })
})

export type DownloadParams = Schema.Schema.Type<typeof DownloadParams>

export const downloadKind = defineKind({
  kind: "download",
  version: 1,
  description: "Fashion-MNIST (60,000 training and 10,000 test images), verified against the published checksums",
  fields: {},
  params: DownloadParams,
  inputs: {},
  output: "dataset",
  figures: [],
  sources: Object.fromEntries(FILES.map((f) => [f.name, f.sha256])),
  unkeyedParams: ["source", "dir", "url"],
  load: () => import("./download.run.js"),
  inProcess: true
})
