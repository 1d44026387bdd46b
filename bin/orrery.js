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

// Output piped into a reader that stops early (`orrery task list | head`) is not an error: the command
// ends quietly. Output that cannot be written otherwise (a full disk) ends it with exit 1 and one line.
process.stdout.on('error', (e) => {
  if (e.code !== 'EPIPE') {
    process.stderr.write(`orrery: cannot write the output: ${e.message}\n`);
    process.exit(1);
  }
  process.exit(process.exitCode ?? 0);
});
// Messages that cannot be written (stderr closed, or on a full disk) are dropped: the command goes on
// to its end and its own exit code. An import whose progress line found `2>&1 | head -1` gone is not
// cut short.
process.stderr.on('error', () => {
  process.stderr.write = () => true;
});

process.exitCode = await main(process.argv.slice(2), undefined, { received, release });
