// The demo's tasks: plain functions, exported and marked with task(import.meta.url, ...).
import { JobEnvironment, task } from '../lib/index.js'

/** A small "training run": a noisy quadratic loss, minimised by gradient descent. */
export const train = task(import.meta.url, async (lr: number, epochs: number) => {
  let w = 5
  for (let e = 0; e < epochs; e++) w -= lr * 2 * (w - 1)
  const loss = (w - 1) ** 2
  if (JobEnvironment.current().arrayTaskId === 0) console.log(`first job of the array: lr=${lr} loss=${loss}`)
  return { lr, epochs, loss }
})
