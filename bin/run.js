#!/usr/bin/env node
// oclif's execute(), with errors that reach the top printed as one line (src/cli/top-level.ts).
import {runCli} from '../dist/cli/top-level.js'

await runCli(process.argv.slice(2), import.meta.url)
