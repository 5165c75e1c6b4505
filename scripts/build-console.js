// Builds the web console (web/) into static files: one hashed script and stylesheet, and the page
// that names them (docs/console.md). Run by `npm run build`; the browser tests call buildConsole().
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { build, stop } from 'esbuild'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export async function buildConsole(outDir = join(root, 'dist', 'console')) {
  await rm(outDir, { recursive: true, force: true })
  await mkdir(outDir, { recursive: true })
  // stop(): esbuild keeps a service process for later builds; a test run must not leave it behind.
  const result = await build({
    entryPoints: { app: join(root, 'web', 'main.ts') },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    outdir: outDir,
    entryNames: '[name]-[hash]',
    minify: true,
    metafile: true,
    logLevel: 'warning',
  }).finally(() => stop())
  const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p))
  const js = outputs.find((p) => p.endsWith('.js'))
  const css = outputs.find((p) => p.endsWith('.css'))
  if (!js || !css) throw new Error(`console build produced ${outputs.join(', ')}`)
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>iiot-ingest console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/${css}">
<script type="module" src="/console/${js}"></script>
</head>
<body><div id="app"><noscript>The console needs JavaScript.</noscript></div></body>
</html>
`
  await writeFile(join(outDir, 'index.html'), html)
  return { outDir, js, css }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outDir, js, css } = await buildConsole(process.argv[2] ? resolve(process.argv[2]) : undefined)
  process.stdout.write(`console built in ${outDir}: ${js}, ${css}\n`)
}
