/** Layering rules from CONVENTIONS.md, checked by `npm run lint`. */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'no import cycles', from: {}, to: { circular: true } },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'domain imports only errors and itself',
      from: { path: '^src/domain/' },
      to: { path: '^src/', pathNot: ['^src/domain/', '^src/errors\\.ts$'] },
    },
    { name: 'errors-is-a-leaf', severity: 'error', from: { path: '^src/errors\\.ts$' }, to: { path: '^src/' } },
    {
      name: 'pipeline-knows-ports-not-influx',
      severity: 'error',
      from: { path: '^src/pipeline/' },
      to: { path: '^src/storage/influx/' },
    },
    { name: 'broker-not-api', severity: 'error', from: { path: '^src/broker/' }, to: { path: '^src/api/' } },
    { name: 'api-not-broker', severity: 'error', from: { path: '^src/api/' }, to: { path: '^src/(broker|storage/influx)/' } },
    {
      name: 'only-composition-root-reads-env',
      severity: 'error',
      comment: 'service.ts and main.ts assemble concrete adapters',
      from: { path: '^src/(domain|pipeline|registry|broker|api|config)/' },
      to: { path: '^src/(service|main)\\.ts$' },
    },
    { name: 'src-not-test', severity: 'error', from: { path: '^src/' }, to: { path: '^(test|bench)/' } },
    { name: 'not-to-dev-dep', severity: 'error', from: { path: '^src/', pathNot: '^src/devtools/' }, to: { dependencyTypes: ['npm-dev'] } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
}
