import { describe, expect, it } from 'vitest';
import { redactUrl } from './redact-url.js';

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

  it('leaves URLs without a password alone', () => {
    for (const u of ['postgres://orrery@localhost/orrery', 'postgres://localhost/orrery', 'sqlite:./orrery.db', 'sqlite::memory:', 'postgres://h/d?x=a@b']) expect(redactUrl(u)).toBe(u);
  });
});
