/**
 * guide.md, Library API: "A message shows the offending value bounded: text cut at 200 characters".
 * A value of 100,000 characters was repeated whole (twice for a cron expression) in these messages.
 */
import { describe, expect, it } from 'vitest';
import { useTempOrrery } from './engine-helpers.js';

const BIG = 'Q'.repeat(100_000);

async function messageOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return (e as Error).message + JSON.stringify((e as { details?: unknown }).details ?? []);
  }
  throw new Error('expected a refusal');
}

describe('an offending value in a message is bounded', () => {
  const setup = useTempOrrery();

  it('at 200 characters, with its length, in every call that quoted it whole', async () => {
    const { orrery } = await setup();
    await orrery.createTaskType({ name: 'z' });
    const task = await orrery.createTask({ type: 'z', schedule: { kind: 'cron', expr: '0 * * * *' } });
    const cases: Record<string, () => unknown> = {
      type: () => orrery.createTask({ type: BIG, policy: 'oneshot' }),
      nextRun: () => orrery.createTask({ type: 'z', policy: 'oneshot', nextRun: BIG }),
      jitter: () => orrery.createTask({ type: 'z', schedule: { kind: 'cron', expr: '0 * * * *', jitter: BIG } as never }),
      cron: () => orrery.createTask({ type: 'z', schedule: { kind: 'cron', expr: BIG } }),
      rrule: () => orrery.createTask({ type: 'z', schedule: { kind: 'rrule', rule: `FREQ=DAILY;X=${BIG}` } }),
      exclude: () => orrery.createTask({ type: 'z', schedule: { kind: 'cron', expr: '0 * * * *', exclude: [BIG] } }),
      endRun: () => orrery.endRun(BIG, { status: 'failed' }),
      preview: () => orrery.schedules.preview({ cron: '0 * * * *', from: BIG }),
      backfill: () => orrery.schedules.backfill(task.id, { from: BIG, to: '2026-01-31T00:00:00Z' }),
      scheduleDue: () => orrery.scheduleDue({ type: BIG.slice(0, 120) + 'x'.repeat(200) }),
    };
    for (const [name, call] of Object.entries(cases)) {
      const m = await messageOf(call);
      expect(m.length, `${name}: ${m.slice(0, 300)}`).toBeLessThan(1500);
      expect(m, name).toContain('characters)');
    }
  });
});
