import { execFileSync } from 'node:child_process'
import { mkdtemp, open, rm, statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Mounting a tmpfs needs root; CI and the development machines run as root. */
export const canMountSmallDisk = process.getuid?.() === 0

/** Tell, once per file, why a test that needs a small disk is skipped. */
export function warnIfCannotMount(what: string): void {
  if (!canMountSmallDisk) process.stderr.write(`${what}: SKIPPED, mounting a tmpfs needs root (CI runs as root)\n`)
}

export interface SmallDisk {
  readonly dir: string
  /** Bytes an unprivileged writer could still write. */
  freeBytes(): Promise<number>
  /** Writes a filler file until the disk refuses more (ENOSPC). */
  fill(): Promise<void>
  /** Unmounts (lazily if still busy) and removes the mount point. */
  dispose(): Promise<void>
}

/**
 * A tmpfs of `bytes` on a fresh directory. A failure to mount throws (as
 * root it must work), so a test that needs it fails loudly instead of
 * passing on a disk that never fills.
 */
export async function mountSmallDisk(bytes: number): Promise<SmallDisk> {
  const dir = await mkdtemp(join(tmpdir(), 'iiot-small-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw new Error(`cannot mount a ${bytes}-byte tmpfs on ${dir}: ${(err as Error).message}`)
  }
  return {
    dir,
    async freeBytes() {
      const s = await statfs(dir)
      return s.bavail * s.bsize
    },
    async fill() {
      const fh = await open(join(dir, 'filler'), 'a')
      try {
        for (let chunk = 64 * 1024; chunk >= 1; ) {
          try {
            await fh.write(Buffer.alloc(chunk))
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
            chunk >>= 1
          }
        }
      } finally {
        await fh.close()
      }
    },
    async dispose() {
      try {
        execFileSync('umount', [dir], { stdio: ['ignore', 'ignore', 'pipe'] })
      } catch {
        // Still busy (a failed test left a file open): detach it now, the kernel frees it once closed.
        execFileSync('umount', ['-l', dir])
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}
