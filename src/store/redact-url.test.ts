import { describe, expect, it } from 'vitest';
import { redactUrl } from './redact-url.js';
import { hideUserInfo } from '../core/url-text.js';

describe('redactUrl', () => {
  it('hides the password whatever the user name, and every part of one with an unescaped @', () => {
    expect(redactUrl('postgres://orrery:s3cret@db.example:5432/orrery')).toBe('postgres://orrery:***@db.example:5432/orrery');
    expect(redactUrl('postgres://:s3cret@localhost/orrery')).toBe('postgres://:***@localhost/orrery');
    expect(redactUrl('postgres://postgres:pa@ss@localhost:1/orrery')).toBe('postgres://postgres:***@localhost:1/orrery');
    expect(redactUrl('postgresql://u:p%40ss@h/d?sslmode=require')).toBe('postgresql://u:***@h/d?sslmode=require');
  });

  it('hides a password holding an unescaped /, ? or # (the URL is then invalid, and its error message quotes it)', () => {
    expect(redactUrl('postgres://u:sec/ret@h:99999/db')).toBe('postgres://u:***@h:99999/db');
    expect(redactUrl('postgres://u:sec?ret@127.0.0.1:55731/db')).toBe('postgres://u:***@127.0.0.1:55731/db');
    expect(redactUrl('postgres://u:sec#ret@127.0.0.1:55731/db')).toBe('postgres://u:***@127.0.0.1:55731/db');
    expect(redactUrl('postgres://orrery:s3cr/t+Kq@db:5432/orrery')).toBe('postgres://orrery:***@db:5432/orrery');
    expect(redactUrl('mysql://u:sec/ret@h/db')).toBe('mysql://u:***@h/db');
  });

  it('hides a password given as a query parameter (the driver reads it)', () => {
    expect(redactUrl('postgres://postgres@127.0.0.1:5543/o1?password=postgres')).toBe('postgres://postgres@127.0.0.1:5543/o1?password=***');
    expect(redactUrl('postgres://u:p@h/d?sslmode=require&Password=x&sslpassword=y#f')).toBe('postgres://u:***@h/d?sslmode=require&Password=***&sslpassword=***#f');
    expect(redactUrl('postgres://h/d?passwords=kept&password')).toBe('postgres://h/d?passwords=kept&password');
  });

  it('hides the password of a URL too broken to parse as one: a space before it, one slash, no colon', () => {
    expect(redactUrl(' postgres://u:TypoPw4@127.0.0.1:5/o')).toBe(' postgres://u:***@127.0.0.1:5/o');
    expect(redactUrl('postgres:/u:TypoPw1@127.0.0.1:5/o')).toBe('postgres:/u:***@127.0.0.1:5/o');
    expect(redactUrl('postgres//u:TypoPw3@127.0.0.1:5/o')).toBe('postgres//u:***@127.0.0.1:5/o');
    expect(redactUrl('postgres//u:p@ss@h/o')).toBe('postgres//u:***@h/o');
  });

  it('keeps the host of a URL with an @ after its user info, or without user info (diff review, 2026-12-06)', () => {
    expect(redactUrl('postgres://u:pw@h:5432/d?user=alice@corp')).toBe('postgres://u:***@h:5432/d?user=alice@corp');
    expect(redactUrl('postgres://h:5432/d?application_name=me@laptop')).toBe('postgres://h:5432/d?application_name=me@laptop');
    expect(hideUserInfo('webhook https://hooks.example.com:8443/notify?to=ops@example.com failed')).toBe('webhook https://hooks.example.com:8443/notify?to=ops@example.com failed');
    expect(hideUserInfo('file:///C:/x/.pnpm/pg@8.11.0/y')).toBe('file:///C:/x/.pnpm/pg@8.11.0/y');
    // A quote in a password is hidden too, inside quotes as messages print URLs.
    expect(hideUserInfo(`db: "postgres:/u:it's@h/db"`)).toBe('db: "postgres:/u:***@h/db"');
    expect(hideUserInfo(`argument 'http://u:it's@h:99999/x' is invalid`)).toBe(`argument 'http://u:***@h:99999/x' is invalid`);
  });

  it('leaves URLs without a password alone', () => {
    for (const u of ['postgres://orrery@localhost/orrery', 'postgres://localhost/orrery', 'sqlite:./orrery.db', 'sqlite::memory:', 'postgres://h/d?x=a@b']) expect(redactUrl(u)).toBe(u);
  });
});
