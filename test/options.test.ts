import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, UsageError } from '../src/errors.js';
import { resolveTargetOptions, type TargetFlags } from '../src/options/options.js';

function dirWithConfig(config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'sse-doctor-options-'));
  writeFileSync(join(dir, 'sse-doctor.config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}
const empty = mkdtempSync(join(tmpdir(), 'sse-doctor-empty-'));

describe('resolveTargetOptions: defaults, config file, env, flags', () => {
  it('defaults to the generations profile of docs/contract.md', () => {
    const options = resolveTargetOptions({}, {}, empty);
    expect(options.baseUrl).toBe('http://127.0.0.1:8000/api');
    expect(options.profile.name).toBe('generations');
    expect(options.profile.limits.heartbeatSeconds).toBe(5);
    expect(options.profile.client.retryDelaysSeconds).toEqual([2, 4, 8, 16, 32]);
    expect(Object.isFrozen(options) && Object.isFrozen(options.profile.limits)).toBe(true);
  });

  it.each<[string, TargetFlags, NodeJS.ProcessEnv, string]>([
    ['config file', {}, {}, 'http://config:1/api'],
    ['env over config', {}, { SSE_DOCTOR_BASE_URL: 'http://env:2/api' }, 'http://env:2/api'],
    ['flag over env', { baseUrl: 'http://flag:3/api/' }, { SSE_DOCTOR_BASE_URL: 'http://env:2/api' }, 'http://flag:3/api'],
  ])('precedence: %s', (_name, flags, env, expected) => {
    expect(resolveTargetOptions(flags, env, dirWithConfig({ baseUrl: 'http://config:1/api' })).baseUrl).toBe(expected);
  });

  it('merges profile overrides, headers and the auth from each layer', () => {
    const dir = dirWithConfig({ auth: 'from-file', headers: { 'X-Team': 'a' }, profile: { base: 'generations', limits: { heartbeatSeconds: 0.5 }, paths: { token: '/t/{id}' } } });
    const options = resolveTargetOptions({ header: ['X-Extra: 1'], maxRetries: 2 }, { SSE_DOCTOR_AUTH: 'from-env' }, dir);
    expect(options.auth).toBe('from-env');
    expect(options.headers).toEqual({ 'X-Team': 'a', 'X-Extra': '1' });
    expect(options.profile.limits.heartbeatSeconds).toBe(0.5);
    expect(options.profile.limits.firstEventSeconds).toBe(1);
    expect(options.profile.paths.token).toBe('/t/{id}');
    expect(options.profile.client.maxRetries).toBe(2);
  });

  it('--url implies the generic profile', () => {
    const options = resolveTargetOptions({ url: 'http://127.0.0.1:9/events' }, {}, empty);
    expect(options.profile.name).toBe('generic');
    expect(options.streamUrl).toBe('http://127.0.0.1:9/events');
  });

  it.each<[string, unknown, string]>([
    ['a wrong type names the path', { profile: { limits: { heartbeatSeconds: 'five' } } }, 'profile.limits.heartbeatSeconds: expected a finite number of seconds >= 0'],
    ['an unknown key suggests the right one', { profile: { limits: { heartbeatSecond: 5 } } }, 'profile.limits.heartbeatSecond: unknown key (did you mean "heartbeatSeconds"?)'],
    ['an unknown top-level key', { baseurl: 'x' }, 'baseurl: unknown config key (did you mean "baseUrl"?)'],
    ['a negative number', { profile: { client: { maxRetries: -1 } } }, 'profile.client.maxRetries: expected a finite number >= 0, got -1'],
    ['an array of the wrong type', { profile: { client: { retryDelaysSeconds: ['2s'] } } }, 'profile.client.retryDelaysSeconds: expected an array of numbers'],
    ['a retry delay past the clamp (issue 11)', { profile: { client: { retryDelaysSeconds: [1e308] } } }, 'profile.client.retryDelaysSeconds[0]: expected a finite number of seconds >= 0 and <= 3600, got 1e+308'],
    ['a negative retry delay (issue 11)', { profile: { client: { retryDelaysSeconds: [2, -1] } } }, 'profile.client.retryDelaysSeconds[1]: expected a finite number of seconds >= 0 and <= 3600, got -1'],
    ['an unknown profile', { profile: 'grpc' }, 'profile: unknown profile "grpc" (expected one of generations, generic, openai)'],
  ])('bad config: %s', (_name, config, message) => {
    expect(() => resolveTargetOptions({}, {}, dirWithConfig(config))).toThrow(new ConfigError(message));
  });

  it('bad JSON is a config error naming the file', () => {
    expect(() => resolveTargetOptions({}, {}, dirWithConfig('{ nope'))).toThrow(/sse-doctor\.config\.json: not valid JSON/);
  });

  it.each<[TargetFlags, RegExp]>([
    [{ baseUrl: 'not a url' }, /--base-url: "not a url" is not a valid URL/],
    [{ baseUrl: 'ftp://host/api' }, /must be an http:\/\/ or https:\/\/ URL/],
    [{ url: "127.0.0.1:8000/stream" }, /--url: "127.0.0.1:8000\/stream" (is not a valid URL|must be an http)/],
    [{ header: ['NoColon'] }, /-H "NoColon": expected "Name: value"/],
    [{ config: 'missing.json' }, /--config: no such file/],
    // Issue 11: CRLF in --auth gave exit 3 and "is the server running".
    [{ auth: 'abc\r\nX-Evil: 1' }, /--auth: the value holds a line break \(CR\/LF\)/],
    [{ header: ['X-Team: a\nb'] }, /-H "X-Team: …": the value holds a line break/],
  ])('bad flags: %j', (flags, message) => {
    expect(() => resolveTargetOptions(flags, {}, empty)).toThrow(message);
    try {
      resolveTargetOptions(flags, {}, empty);
    } catch (error) {
      expect(error instanceof UsageError || error instanceof ConfigError).toBe(true);
    }
  });
});
