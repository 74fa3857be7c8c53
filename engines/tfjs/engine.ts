/**
 * The TensorFlow.js engine: which backend to train on, and loading it. Detection only resolves package
 * paths (no import), so planning a run that is cached never loads TensorFlow.js. Preference order: the native
 * GPU binding, the native CPU binding, wasm (XNNPACK, with pipe's training kernels), plain JavaScript.
 */
import { createRequire } from "node:module"

export type Backend = "tensorflow-gpu" | "tensorflow" | "wasm" | "cpu"

export const BACKENDS: ReadonlyArray<Backend> = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"]

const PACKAGE: Record<Backend, string> = {
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
  tensorflow: "@tensorflow/tfjs-node",
  wasm: "@tensorflow/tfjs-backend-wasm",
  cpu: "@tensorflow/tfjs"
}

const require = createRequire(import.meta.url)

const installed = (pkg: string): boolean => {
  try {
    require.resolve(`${pkg}/package.json`)
    return true
  } catch {
    return false
  }
}

export const availableBackends = (): Array<Backend> => BACKENDS.filter((b) => installed(PACKAGE[b]))

export const tfjsVersion = (): string | undefined => {
  try {
    return (require(`${PACKAGE.cpu}/package.json`) as { version: string }).version
  } catch {
    return undefined
  }
}

export class BackendUnavailable extends Error {}

/** The backend to use: the forced one (which must be installed) or the best installed one. */
export const pickBackend = (forced?: Backend | "auto"): Backend => {
  const available = availableBackends()
  if (forced && forced !== "auto") {
    if (!available.includes(forced)) {
      throw new BackendUnavailable(
        `backend ${forced} is not available: ${PACKAGE[forced]} is not installed` +
          (forced.startsWith("tensorflow")
            ? ` (npm install ${PACKAGE[forced]} on a machine that can download libtensorflow)`
            : "") +
          `; available here: ${available.join(", ") || "none"}`
      )
    }
    return forced
  }
  const best = available[0]
  if (!best) throw new BackendUnavailable("TensorFlow.js is not installed (npm install @tensorflow/tfjs)")
  return best
}

export type Tf = typeof import("@tensorflow/tfjs")

/** Loads TensorFlow.js on the backend, with pipe's extra kernels where the backend lacks them. */
export const loadBackend = async (backend: Backend): Promise<Tf> => {
  if (backend === "tensorflow-gpu" || backend === "tensorflow") {
    const tf = (await import(PACKAGE[backend])) as Tf
    tf.enableProdMode()
    await tf.setBackend("tensorflow")
    return tf
  }
  const tf = await import("@tensorflow/tfjs")
  // Production mode: no debug checks, and no console banners or warnings in stage logs.
  tf.enableProdMode()
  if (backend === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm")
    const { registerWasmTrainingKernels } = await import("./wasmKernels.js")
    registerWasmTrainingKernels(tf)
  }
  if (!(await tf.setBackend(backend))) throw new BackendUnavailable(`backend ${backend} failed to initialise`)
  await tf.ready()
  return tf
}
