/**
 * The readable log lines of `serve`, `worker` and `runner` (stderr, pino-pretty): a message quotes
 * what handlers and clients wrote, so its control characters are shown as escapes, never sent raw
 * to the terminal; the loop's name leads the line and a 5xx's stack follows it.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

describe('pretty log lines', () => {
  it('escape control characters and line breaks of the message; keep the loop prefix and a request stack', () => {
    const script = `
      import { createLogger } from ${JSON.stringify(join(ROOT, 'src', 'engine', 'logger.ts'))};
      const log = createLogger('pretty');
      log.warn({ loop: 'worker' }, 'run failed: A\\u001b]0;PWNED\\u0007\\u001b[2J\\rXX\\u009b31m\\u202eRTL');
      log.error({ requestId: 'r1', err: { stack: 'Error: boom\\n    at here' } }, 'GET /api/x: 500');
      log.warn({ loop: 'worker' }, 'run abandoned: first\\n[00:00:00.000] INFO: forged\\tline');
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: worker: run failed: A\\u001b\]0;PWNED\\u0007\\u001b\[2J\\rXX\\u009b31m\\u202eRTL$/);
    expect(lines.slice(1, 4)).toEqual([expect.stringMatching(/ERROR: GET \/api\/x: 500$/), 'Error: boom', '    at here']);
    // A line break in a message is escaped: one event, one line, none forged.
    expect(lines.slice(4)).toEqual([expect.stringMatching(/WARN: worker: run abandoned: first\\n\[00:00:00\.000\] INFO: forged\\tline$/)]);
    // eslint-disable-next-line no-control-regex
    expect(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/.test(r.stderr)).toBe(false);
  });
});
