import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests spawn bin/run.js and talk to local servers: give them room on a busy 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // every temporary file of the run under one directory, removed when the run ends
    globalSetup: ['test/helpers/temp-root.ts'],
  },
})
