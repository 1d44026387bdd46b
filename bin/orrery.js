#!/usr/bin/env node
// SIGINT, SIGTERM and SIGHUP arriving while the CLI's modules load are held, not fatal: a daemon command
// then stops before it starts, another command exits as the signal asked (src/cli/held-signals.ts).
const received = [];
const hold = (signal) => received.push(signal);
process.on('SIGINT', hold);
process.on('SIGTERM', hold);
process.on('SIGHUP', hold);
const release = () => {
  process.off('SIGINT', hold);
  process.off('SIGTERM', hold);
  process.off('SIGHUP', hold);
};

const { main } = await import('../dist/cli/main.js');

// Output piped into a reader that stops early (`orrery task list | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

process.exitCode = await main(process.argv.slice(2), undefined, { received, release });
