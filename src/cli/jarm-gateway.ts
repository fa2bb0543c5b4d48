#!/usr/bin/env node
// The `jarm-gateway` command: everything it does is in main.ts, which the tests call directly.
import { main } from './main.js'

main(process.argv.slice(2)).then((code) => { if (code >= 0) process.exitCode = code }, (error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
