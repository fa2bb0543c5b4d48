/** Runs `count` tasks with at most `concurrency` at a time; collects every outcome (none is lost). */
export async function pool<T> (count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<Array<{ ok: true, value: T } | { ok: false, error: unknown }>> {
  const results: Array<{ ok: true, value: T } | { ok: false, error: unknown }> = new Array(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++
      try {
        results[index] = { ok: true, value: await task(index) }
      } catch (error) {
        results[index] = { ok: false, error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return results
}

/** Runs tasks with `concurrency` workers until `until()` is true; returns how many ran and failed. */
export async function runUntil (concurrency: number, until: () => boolean, task: (index: number) => Promise<void>): Promise<{ ran: number, failed: number, errors: unknown[] }> {
  let ran = 0
  let failed = 0
  const errors: unknown[] = []
  const worker = async (): Promise<void> => {
    while (!until()) {
      const index = ran++
      try {
        await task(index)
      } catch (error) {
        failed++
        if (errors.length < 5) errors.push(error)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { ran, failed, errors }
}
