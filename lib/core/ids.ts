// Local job ids: unique across processes sharing a folder, and free of "_" (which separates the
// array index, as in Slurm's A_a).
let counter = 0

export function newArrayId(): string {
  counter++
  return `${Date.now().toString(36)}${process.pid.toString(36).padStart(4, '0')}${counter.toString(36)}`
}
