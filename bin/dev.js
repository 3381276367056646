#!/usr/bin/env node
// Development entry: runs the compiled commands after a fresh `tsc` build.
// (oclif's development mode would need ts-node; `npm run build` is fast enough.)
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
