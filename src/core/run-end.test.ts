import { describe, expect, it } from 'vitest';
import { holderEffect } from './run-end.js';

const lease = new Date('2026-01-01T00:00:30Z');

describe('holderEffect', () => {
  it('an end from outside tells the holding worker; a buffered run keeps its lease', () => {
    expect(holderEffect({ status: 'claimed', worker: 'w', leaseExpiresAt: lease }, { cause: 'end' })).toEqual({ keepLease: true, tellWorker: true });
    expect(holderEffect({ status: 'started', worker: 'w', leaseExpiresAt: lease }, { cause: 'end', worker: null })).toEqual({ keepLease: false, tellWorker: true });
  });
  it('the holder ending its own run, a waiting run, or another cause changes nothing for a worker', () => {
    expect(holderEffect({ status: 'claimed', worker: 'w', leaseExpiresAt: lease }, { cause: 'end', worker: 'w' })).toEqual({ keepLease: false, tellWorker: false });
    expect(holderEffect({ status: 'scheduled', worker: null, leaseExpiresAt: null }, { cause: 'end' })).toEqual({ keepLease: false, tellWorker: false });
    expect(holderEffect({ status: 'started', worker: 'w', leaseExpiresAt: lease }, { cause: 'lease-expired' })).toEqual({ keepLease: false, tellWorker: false });
  });
});
