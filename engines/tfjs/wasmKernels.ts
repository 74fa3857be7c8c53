/**
 * Training kernels for TensorFlow.js's wasm backend. It has no Conv2DBackpropFilter at all (training any
 * convolutional model fails), and its Conv2DBackpropInput is a plain loop. Both gradients are convolutions,
 * which wasm runs through XNNPACK, so they are composed here from the backend's own kernels (transpose,
 * reverse, slice, conv2d), as a backend composes kernels: no ops, no tape.
 *
 * Filter gradient: dW[i, j, c, o] = sum over n, y, x of X[n, y*s + i - top, x*s + j - left, c] * dY[n, y, x, o]
 * is conv2d(X^T, dY^T) with X^T = X as [c, H, W, n] (channels as the batch), dY^T = dY as [y, x, n, o] (the
 * filter), dilation = the stride and the forward padding; the [c, i, j, o] result transposed is dW.
 * Input gradient (stride 1): dX = conv2d(dY, W flipped in space with in/out channels swapped), padding
 * mirrored. Strided input gradients keep the backend's own kernel.
 */
import type { Tf } from "./engine.js"

type Info = { dataId: object; shape: Array<number>; dtype: string }
type KernelFunc = (args: { inputs: Record<string, Info>; backend: any; attrs: Record<string, unknown> }) => Info

let registered = false

/**
 * The batch-norm gradient of TensorFlow.js tiles 1/sqrt(variance) to the full input shape before multiplying;
 * Tile is slow on wasm and then dominates a CNN's training step. The same arithmetic with broadcasting:
 * dX = dY * scale / sqrt(variance + eps); the other derivatives are TensorFlow.js's own.
 */
const registerBatchNormGradient = (tf: Tf): void => {
  tf.registerGradient({
    kernelName: "FusedBatchNorm",
    inputsToSave: ["x", "mean", "variance", "scale"],
    gradFunc: (dy, saved, attrs) => {
      const d = dy as import("@tensorflow/tfjs").Tensor
      const [x, mean, variance, scale] = saved as Array<import("@tensorflow/tfjs").Tensor>
      const eps = (attrs as unknown as { varianceEpsilon: number }).varianceEpsilon
      const scaleValue = scale ?? tf.scalar(1)
      const axes = tf.backend_util.getReductionAxes(mean!.shape, x!.shape)
      const reduce = (t: import("@tensorflow/tfjs").Tensor) => tf.reshape(mean!.rank === 1 ? tf.sum(t, axes) : t, mean!.shape)
      const xMinusMean = tf.sub(x!, mean!)
      const dyTimesScale = tf.mul(d, scaleValue)
      const rstd = tf.rsqrt(tf.add(variance!, tf.scalar(eps)))
      const minusHalfRCube = tf.mul(tf.mul(tf.mul(rstd, rstd), rstd), tf.scalar(-0.5))
      return {
        x: () => tf.reshape(tf.mul(dyTimesScale, rstd), x!.shape),
        mean: () => reduce(tf.mul(tf.mul(rstd, tf.scalar(-1)), dyTimesScale)),
        variance: () => reduce(tf.mul(tf.mul(minusHalfRCube, xMinusMean), dyTimesScale)),
        scale: () => reduce(tf.mul(d, tf.mul(xMinusMean, rstd))),
        offset: () => reduce(d)
      }
    }
  })
}

/**
 * Sum and Mean over the leading axes (batch norm's statistics and gradients: axes 0, 1, 2 of NHWC) make the
 * wasm kernels transpose the whole tensor first. Summing rows of the [M, R] view directly in the wasm heap is
 * one pass with no copy. Other reductions keep the backend's kernels.
 */
const registerLeadingReductions = (tf: Tf): void => {
  for (const name of ["Sum", "Mean"] as const) {
    const config = tf.getKernel(name, "wasm")!
    const original = config.kernelFunc as unknown as KernelFunc
    tf.unregisterKernel(name, "wasm")
    tf.registerKernel({
      ...config,
      kernelFunc: ((args: Parameters<KernelFunc>[0]) => {
        const { inputs, backend, attrs } = args
        const x = inputs["x"]!
        const rank = x.shape.length
        const axis = attrs["axis"] as number | Array<number>
        const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b)
        const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i)
        if (!leading || x.dtype !== "float32") return original(args)
        const m = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1)
        const rest = x.shape.slice(axes.length)
        const r = rest.reduce((a, b) => a * b, 1)
        // Allocate before taking views: makeOutput may grow the wasm memory and detach them.
        const out = backend.makeOutput(attrs["keepDims"] ? [...axes.map(() => 1), ...rest] : rest, "float32") as Info
        const src = backend.typedArrayFromHeap(x) as Float32Array
        const acc = new Float64Array(r)
        for (let i = 0; i < m; i++) {
          const row = i * r
          for (let j = 0; j < r; j++) acc[j]! += src[row + j]!
        }
        const dst = backend.typedArrayFromHeap(out) as Float32Array
        const k = name === "Mean" ? 1 / m : 1
        for (let j = 0; j < r; j++) dst[j] = acc[j]! * k
        return out
      }) as never
    })
  }
}

/**
 * Max-pool gradient: each output's gradient goes to the first position of its window that holds the
 * maximum (as the cpu backend does). One pass over the wasm heap, replacing the backend's slow kernel.
 */
const registerMaxPoolGrad = (tf: Tf): void => {
  const config = tf.getKernel("MaxPoolGrad", "wasm")
  if (config) tf.unregisterKernel("MaxPoolGrad", "wasm")
  tf.registerKernel({
    kernelName: "MaxPoolGrad",
    backendName: "wasm",
    kernelFunc: (({ inputs, backend, attrs }: Parameters<KernelFunc>[0]) => {
      const { dy, input } = inputs as { dy: Info; input: Info }
      const info = tf.backend_util.computePool2DInfo(
        input.shape as [number, number, number, number],
        attrs["filterSize"] as [number, number],
        attrs["strides"] as [number, number],
        1,
        attrs["pad"] as "same",
        attrs["dimRoundingMode"] as "round" | undefined
      )
      const [n, h, w, c] = input.shape as [number, number, number, number]
      // Allocate first: makeOutput may grow the wasm memory, which detaches every view taken before it.
      const out = backend.makeOutput(input.shape, "float32") as Info
      const x = backend.typedArrayFromHeap(input) as Float32Array
      const g = backend.typedArrayFromHeap(dy) as Float32Array
      const dx = backend.typedArrayFromHeap(out) as Float32Array
      dx.fill(0)
      const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info
      const { top, left } = info.padInfo
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < oh; i++) {
          for (let j = 0; j < ow; j++) {
            const y0 = i * sh - top
            const x0 = j * sw - left
            for (let ch = 0; ch < c; ch++) {
              let best = -Infinity
              let at = -1
              for (let u = Math.max(0, y0); u < Math.min(h, y0 + fh); u++) {
                for (let v = Math.max(0, x0); v < Math.min(w, x0 + fw); v++) {
                  const k = ((b * h + u) * w + v) * c + ch
                  if (x[k]! > best) {
                    best = x[k]!
                    at = k
                  }
                }
              }
              if (at >= 0) dx[at]! += g[((b * oh + i) * ow + j) * c + ch]!
            }
          }
        }
      }
      return out
    }) as never
  })
}

/**
 * Matrix products with a transposed operand (every dense layer's backward pass) miss XNNPACK's fast path on
 * wasm; transposing the operand first and multiplying plainly is faster.
 */
const registerPlainMatMul = (tf: Tf, kernel: (name: string) => KernelFunc): void => {
  const config = tf.getKernel("BatchMatMul", "wasm")!
  const original = config.kernelFunc as unknown as KernelFunc
  const transpose = kernel("Transpose")
  tf.unregisterKernel("BatchMatMul", "wasm")
  tf.registerKernel({
    ...config,
    kernelFunc: ((args: Parameters<KernelFunc>[0]) => {
      const { inputs, backend, attrs } = args
      if (!attrs["transposeA"] && !attrs["transposeB"]) return original(args)
      const swap = (x: Info) => {
        const perm = x.shape.map((_, i) => i)
        perm.splice(-2, 2, perm.length - 1, perm.length - 2)
        return transpose({ inputs: { x }, backend, attrs: { perm } })
      }
      const a = attrs["transposeA"] ? swap(inputs["a"]!) : inputs["a"]!
      const b = attrs["transposeB"] ? swap(inputs["b"]!) : inputs["b"]!
      const out = original({ inputs: { ...inputs, a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } })
      if (a !== inputs["a"]) backend.disposeData(a.dataId)
      if (b !== inputs["b"]) backend.disposeData(b.dataId)
      return out
    }) as never
  })
}

export const registerWasmTrainingKernels = (tf: Tf): void => {
  if (registered) return
  registered = true
  registerBatchNormGradient(tf)
  const kernel = (name: string): KernelFunc => {
    const k = tf.getKernel(name, "wasm")
    if (!k) throw new Error(`wasm backend has no ${name} kernel`)
    return k.kernelFunc as unknown as KernelFunc
  }
  const transpose = kernel("Transpose")
  const conv2d = kernel("Conv2D")
  const slice = kernel("Slice")
  const reverse = kernel("Reverse")
  const t = (backend: any, x: Info, perm: Array<number>) => transpose({ inputs: { x }, backend, attrs: { perm } })
  const dispose = (backend: any, ...xs: Array<Info>) => xs.forEach((x) => backend.disposeData(x.dataId))

  const convInfo = (xShape: Array<number>, filterShape: Array<number>, attrs: Record<string, unknown>) => {
    if (attrs["dataFormat"] !== undefined && attrs["dataFormat"] !== "NHWC") {
      throw new Error(`wasm training kernels support NHWC only, got ${String(attrs["dataFormat"])}`)
    }
    return tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      filterShape as [number, number, number, number],
      attrs["strides"] as [number, number],
      1,
      attrs["pad"] as "same",
      attrs["dimRoundingMode"] as "round" | undefined,
      false,
      "channelsLast"
    )
  }

  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: (({ inputs, backend, attrs }: Parameters<KernelFunc>[0]) => {
      const { x, dy } = inputs as { x: Info; dy: Info }
      const filterShape = attrs["filterShape"] as Array<number>
      const info = convInfo(x.shape, filterShape, attrs)
      const [fh, fw] = filterShape as [number, number]
      const { top, left } = info.padInfo
      const bottom = fh + (info.outHeight - 1) * info.strideHeight - info.inHeight - top
      const right = fw + (info.outWidth - 1) * info.strideWidth - info.inWidth - left
      let xt = t(backend, x, [3, 1, 2, 0]) // [c, H, W, n]
      if (bottom < 0 || right < 0) {
        // rows/columns past the last window: the forward pass never read them
        const cropped = slice({
          inputs: { x: xt },
          backend,
          attrs: { begin: [0, 0, 0, 0], size: [-1, info.inHeight + Math.min(bottom, 0), info.inWidth + Math.min(right, 0), -1] }
        })
        dispose(backend, xt)
        xt = cropped
      }
      const dyt = t(backend, dy, [1, 2, 0, 3]) // [y, x, n, o]
      const conv = conv2d({
        inputs: { x: xt, filter: dyt },
        backend,
        attrs: {
          strides: [1, 1],
          pad: [
            [0, 0],
            [top, Math.max(bottom, 0)],
            [left, Math.max(right, 0)],
            [0, 0]
          ],
          dataFormat: "NHWC",
          dilations: [info.strideHeight, info.strideWidth]
        }
      }) // [c, i, j, o]
      const dw = t(backend, conv, [1, 2, 0, 3])
      dispose(backend, xt, dyt, conv)
      return dw
    }) as never
  })

  // Keep the backend's kernel for strided cases; its setupFunc binds the wasm function when the backend starts,
  // so it must be registered before the backend is initialised.
  const originalConfig = tf.getKernel("Conv2DBackpropInput", "wasm")!
  const original = originalConfig.kernelFunc as unknown as KernelFunc
  registerLeadingReductions(tf)
  registerMaxPoolGrad(tf)
  registerPlainMatMul(tf, kernel)
  tf.unregisterKernel("Conv2DBackpropInput", "wasm")
  tf.registerKernel({
    kernelName: "Conv2DBackpropInput",
    backendName: "wasm",
    ...(originalConfig.setupFunc ? { setupFunc: originalConfig.setupFunc } : {}),
    kernelFunc: ((args: Parameters<KernelFunc>[0]) => {
      const { inputs, backend, attrs } = args
      const { dy, filter } = inputs as { dy: Info; filter: Info }
      const inputShape = attrs["inputShape"] as Array<number>
      const info = convInfo(inputShape, filter.shape, attrs)
      if (info.strideHeight !== 1 || info.strideWidth !== 1) return original(args)
      const [fh, fw] = filter.shape as [number, number]
      const { top, left, bottom, right } = info.padInfo
      const flipped = reverse({ inputs: { x: filter }, backend, attrs: { dims: [0, 1] } })
      const swapped = t(backend, flipped, [0, 1, 3, 2]) // [i, j, o, c]
      const dx = conv2d({
        inputs: { x: dy, filter: swapped },
        backend,
        attrs: {
          strides: [1, 1],
          pad: [
            [0, 0],
            [fh - 1 - top, fh - 1 - bottom],
            [fw - 1 - left, fw - 1 - right],
            [0, 0]
          ],
          dataFormat: "NHWC",
          dilations: [1, 1]
        }
      })
      dispose(backend, flipped, swapped)
      return dx
    }) as never
  })
}
