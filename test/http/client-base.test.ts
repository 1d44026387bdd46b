import { describe, expect, it } from 'vitest';
import { serverBase } from '../../src/http/client.js';

describe('serverBase: the server address a user gives', () => {
  it('drops trailing slashes and takes the API address serve prints (…/api) as the server', () => {
    expect(serverBase('http://127.0.0.1:5180')).toBe('http://127.0.0.1:5180');
    expect(serverBase('http://127.0.0.1:5180/')).toBe('http://127.0.0.1:5180');
    expect(serverBase('http://127.0.0.1:5180/api')).toBe('http://127.0.0.1:5180');
    expect(serverBase('http://127.0.0.1:5180/api//')).toBe('http://127.0.0.1:5180');
    // Behind a proxy under a path prefix: only a final /api is the API's own.
    expect(serverBase('https://example.org/orrery/')).toBe('https://example.org/orrery');
    expect(serverBase('https://example.org/apiary')).toBe('https://example.org/apiary');
  });
});
