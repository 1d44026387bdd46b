import { afterEach, describe, expect, it } from 'vitest';
import { ago, clockTime, duration, instant, relative, setTimeZone, timeZone, dagParams } from './format.js';

const now = Date.parse('2026-03-01T12:00:00.000Z');

describe('relative times', () => {
  it('read "… ago" for the past and "in …" for the future', () => {
    expect(relative(new Date(now - 2000), now)).toBe('2.0 s ago');
    expect(relative(new Date(now + 2000), now)).toBe('in 2.0 s');
    expect(relative(new Date(now - 3 * 3_600_000), now)).toBe('3 h 0 min ago');
    expect(relative(new Date(now + 500), now)).toBe('now');
    expect(relative(null, now)).toBe('—');
  });

  it('never show an event that happened as future, even ahead of the clock (the "in 2.0 s" heartbeat)', () => {
    expect(ago(new Date(now + 2000), now)).toBe('just now');
    expect(ago(new Date(now - 90_000), now)).toBe('1 min 30 s ago');
    // The default `now` is the moment of the call, not an older timer tick.
    expect(ago(new Date(Date.now() - 5000))).toBe('5.0 s ago');
  });
});

describe('durations', () => {
  it('never read 60 s or 60 min: the value is rounded to the unit shown before it is split', () => {
    expect(duration(59_600)).toBe('1 min 0 s');
    expect(duration(119_700)).toBe('2 min 0 s');
    expect(duration(7_170_000)).toBe('2 h 0 min');
    expect(relative(new Date(now - 239_600), now)).toBe('4 min 0 s ago');
    expect(duration(9_960)).toBe('10 s');
    expect(duration(999.6)).toBe('1.0 s');
    expect(duration(59_400)).toBe('59 s');
    expect(duration(90_000)).toBe('1 min 30 s');
  });
});

describe('the time zone of instants', () => {
  afterEach(() => setTimeZone('utc'));

  it('shows UTC by default, or the browser zone with its offset once chosen', () => {
    const d = new Date('2026-03-01T12:34:56.789Z');
    expect(timeZone()).toBe('utc');
    expect(instant(d)).toBe('2026-03-01 12:34:56Z');
    expect(clockTime(d)).toBe('12:34:56.789');
    setTimeZone('local');
    const off = -d.getTimezoneOffset();
    const sign = off < 0 ? '-' : '+';
    const hh = String(Math.floor(Math.abs(off) / 60)).padStart(2, '0');
    const mm = String(Math.abs(off) % 60).padStart(2, '0');
    const local = new Date(d.getTime() + off * 60_000).toISOString();
    expect(instant(d)).toBe(`${local.slice(0, 10)} ${local.slice(11, 19)} ${sign}${hh}:${mm}`);
  });
});

describe('dagParams: the DAG trigger form', () => {
  it('an empty field, or spaces and line breaks only, is no params (those were "not JSON": dashboard audit); text that is not a JSON object is named', () => {
    for (const text of ['', '  ', '\n', ' \n\t ']) expect(dagParams(text)).toEqual({ params: {} });
    expect(dagParams(' {"day": "2026-01-31"} ')).toEqual({ params: { day: '2026-01-31' } });
    expect(dagParams('{"day": ')).toEqual({ problem: expect.stringMatching(/^Params are not JSON: /) });
    for (const text of ['[1, 2]', 'null', '5']) expect(dagParams(text)).toEqual({ problem: 'Params must be a JSON object, such as {"day": "2026-01-31"}.' });
  });
});
