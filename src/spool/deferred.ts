/** A promise with its settle functions in hand: one outcome shared by many waiters (a group commit, a tick's record). */
export interface Deferred {
  readonly promise: Promise<void>
  resolve(): void
  reject(err: unknown): void
}

export function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}
