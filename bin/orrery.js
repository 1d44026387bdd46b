#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// Output piped into a reader that stops early (`orrery task list | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

process.exitCode = await main(process.argv.slice(2));
