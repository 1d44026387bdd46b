import { ValidationError } from '../../src/core/errors.js';
import { describe, expect, it } from 'vitest';
import { Daemon, VisitScheduler } from '../../src/index.js'; // the package's entry: users build the loop themselves
import { useTempOrrery, waitFor } from './engine-helpers.js';

describe('VisitScheduler', () => {
  const setup = useTempOrrery();

  it('keeps the queue filled with one-shot visit tasks that run through the jobboard, and records every result once', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'git' });
    const l = await orrery.visits.getOrCreateLister('forge');
    const N = 60;
    await orrery.visits.recordListedOrigins(
      Array.from({ length: N }, (_, i) => ({ listerId: l.id, url: `https://forge/${i}`, visitType: 'git', extraLoaderArguments: { n: i }, ...(i % 2 ? { lastUpdate: new Date(1e12 + i) } : {}) })),
    );
    const seen: Array<{ url: unknown; n: unknown }> = [];
    let inFlightMax = 0;
    const daemon = new Daemon(orrery, {
      runner: true,
      reaper: true,
      maxSleepMs: 50,
      worker: {
        concurrency: 8,
        pollMs: 20,
        handlers: {
          // a crawler: every third origin is gone, the others yield a snapshot (some one that is not an id)
          git: async ({ args, kwargs }) => {
            const i = Number(kwargs.n);
            seen.push({ url: args[0], n: kwargs.n });
            if (i % 6 === 1) return { eventful: true, result: { status: 'successful', snapshot: { id: i } } };
            return i % 3 === 0 ? { eventful: false, result: { status: 'not_found' } } : { eventful: true, result: { status: 'successful', snapshot: `snap-${i}` } };
          },
        },
      },
    });
    const loop = new VisitScheduler(orrery, {
      queues: [{ visitType: 'git', size: 10, policies: [{ policy: 'oldest_scheduled_first', weight: 1 }] }],
      refillFraction: 0.5,
      maxSleepMs: 50,
    });
    const watch = setInterval(() => void orrery.visits.countInFlight('git').then((n) => (inFlightMax = Math.max(inFlightMax, n))), 5);
    onCleanup(async () => {
      clearInterval(watch);
      await loop.stop();
      await daemon.stop();
    });
    daemon.start();
    loop.start();
    const stats = await waitFor(async () => {
      const s = await orrery.visits.getVisitStats(Array.from({ length: N }, (_, i) => ({ url: `https://forge/${i}`, visitType: 'git' })));
      return s.length === N && s.every((x) => x.lastVisit !== null) ? s : null;
    }, 'every origin visited', 30_000, 50);
    expect(new Set(seen.map((s) => s.url)).size).toBe(N);
    expect(seen.length).toBe(N); // the absolute cooldown: nobody visited twice
    expect(inFlightMax).toBeLessThanOrEqual(10);
    for (const s of stats) {
      const i = Number(s.url.split('/').pop());
      // A snapshot that is not a string of 1 to 1024 characters fails the visit (it is not dropped from a success).
      if (i % 6 === 1) expect(s).toMatchObject({ lastVisitStatus: 'failed', lastSnapshot: null, lastSuccessful: null });
      else expect(s).toMatchObject(i % 3 === 0 ? { lastVisitStatus: 'not_found', lastSnapshot: null } : { lastVisitStatus: 'successful', lastSnapshot: `snap-${i}` });
    }
    await waitFor(async () => (await orrery.visits.countInFlight('git')) === 0, 'nothing left in flight', 10_000);
    expect(seen.map((s) => s.n).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: N }, (_, i) => i));
  });

  it('rejects a bad configuration', async () => {
    const { orrery } = await setup();
    expect(() => new VisitScheduler(orrery, { queues: [] })).toThrow(/at least one visit type/);
    expect(() => new VisitScheduler(orrery, { queues: [{ visitType: 'git', size: 0 }] })).toThrow(/size/);
    // Past int4 it started, then every pass failed naming count (CLI audit).
    expect(() => new VisitScheduler(orrery, { queues: [{ visitType: 'git', size: 2_147_483_648 }] })).toThrow('queues[0].size: must be an integer from 1 to 2147483647');
    expect(() => new VisitScheduler(orrery, { queues: [{ visitType: 'git', policies: [{ policy: 'nope' as never, weight: 1 }] }] })).toThrow(/unknown policy/);
    expect(() => new VisitScheduler(orrery, { queues: [{ visitType: 'git' }, { visitType: 'hg' }, { visitType: 'git', size: 5 }] })).toThrow(/queues\[2\]\.visitType: "git" already has a queue \(queues\[0\]\)/);
    // Each of these started, then every pass failed on it (or a misspelling was ignored): visits audit.
    const refused: Array<[unknown, string]> = [
      [{ queues: [{ visitType: 'git', cooldowns: { absoluteMs: -1 } }] }, 'queues[0].cooldowns.absoluteMs: must be a non-negative number of milliseconds, at most 100 years'],
      [{ queues: [{ visitType: 'git', cooldowns: { absolute: 5 } }] }, 'queues[0].cooldowns.absolute: unknown cooldown'],
      [{ queues: [{ visitType: 'git', lister: 'nope' }] }, 'queues[0].lister: must be a lister id (a UUID)'],
      [{ queues: [{ visitType: 'git' }], collectBatch: 0 }, 'collectBatch: must be an integer from 1 to 10000'],
      [{ queues: [{ visitType: 'git', policies: [] }] }, 'queues[0].policies: at least one policy with a positive weight is required'],
      [{ queues: 'git' }, 'queues: must be an array of queues ({ visitType, size?, policies?, lister?, cooldowns? })'],
      [{ queues: [{ visitType: 'git', sise: 5 }] }, 'queues[0].sise: unknown field (one of visitType, size, policies, lister, cooldowns)'],
      [{ queues: [{ visitType: 'git' }], refilFraction: 0.5 }, 'refilFraction: unknown field (one of queues, refillFraction, collectBatch, metricsEveryMs, maxSleepMs, logger)'],
    ];
    for (const [opts, message] of refused) {
      const e = (() => {
        try {
          new VisitScheduler(orrery, opts as never);
          return null;
        } catch (x) {
          return x;
        }
      })();
      expect(e, message).toBeInstanceOf(ValidationError);
      expect((e as Error).message).toBe(message);
    }
  });
});
