import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, UsageError } from '../errors.js';
import { DELAY_RANGE_MS } from '../engine/delay.js';
import type { Profile, ProfileClient, TargetOptions } from '../engine/target.js';
import { BUILTIN_PROFILES, PROFILE_NAMES, type ProfileName } from './profiles.js';

/** The target and client-policy flags as commander hands them over, values already parsed by `options/parse.ts`. */
export interface TargetFlags {
  insecure?: boolean;
  followRedirects?: boolean;
  config?: string;
  baseUrl?: string;
  url?: string;
  auth?: string;
  otherAuth?: string;
  header?: string[];
  profile?: string;
  /** Milliseconds. */
  connectTimeout?: number;
  maxRetries?: number;
  /** Milliseconds, in order. */
  retryDelays?: number[];
  /** Milliseconds. */
  silence?: number;
}

const CONFIG_FILE = 'sse-doctor.config.json';
const DEFAULT_BASE_URL = 'http://127.0.0.1:8000/api';

/** The config file's shape: every key optional; `profile` is a name or a partial profile. */
interface ConfigFile {
  baseUrl?: string;
  auth?: string;
  otherAuth?: string;
  headers?: Record<string, string>;
  profile?: string | { base?: string; [section: string]: unknown };
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  maxLineBytes?: number;
  logFields?: Record<string, string>;
}

/** The fields `logFields` may name. */
const LOG_FIELDS = ['time', 'client', 'method', 'path', 'status', 'durationMs', 'bytes', 'events'];

/**
 * Defaults, then the config file, then `SSE_DOCTOR_*` env vars, then flags: one typed,
 * frozen object, validated here so nothing downstream has to.
 */
export function resolveTargetOptions(
  flags: TargetFlags,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): TargetOptions {
  const file = readConfigFile(flags.config, cwd);
  const profileName = pickProfileName(flags, file);
  const overrides = typeof file.profile === 'object' ? withoutKey(file.profile, 'base') : {};
  const fromFile = mergeChecked(BUILTIN_PROFILES[profileName], overrides, 'profile') as Profile;
  const profile: Profile = { ...fromFile, client: withClientFlags(fromFile.client, flags) };

  const envBaseUrl = nonEmpty(env.SSE_DOCTOR_BASE_URL);
  const [baseUrlSource, rawBaseUrl] =
    flags.baseUrl !== undefined ? ['--base-url', flags.baseUrl]
    : envBaseUrl !== undefined ? ['SSE_DOCTOR_BASE_URL', envBaseUrl]
    : file.baseUrl !== undefined ? ['baseUrl', file.baseUrl]
    : ['default base URL', DEFAULT_BASE_URL];
  const baseUrl = normaliseUrl(rawBaseUrl, baseUrlSource);
  const streamUrl = flags.url === undefined ? undefined : normaliseUrl(flags.url, '--url');
  const headers = { ...checkHeaderRecord(file.headers ?? {}, 'headers'), ...parseHeaderFlags(flags.header ?? []) };

  const auth = bearerOf(flags.auth, '--auth') ?? bearerOf(env.SSE_DOCTOR_AUTH, 'SSE_DOCTOR_AUTH') ?? bearerOf(file.auth, 'auth');
  const otherAuth = bearerOf(flags.otherAuth, '--other-auth') ?? bearerOf(env.SSE_DOCTOR_OTHER_AUTH, 'SSE_DOCTOR_OTHER_AUTH') ?? bearerOf(file.otherAuth, 'otherAuth');
  return deepFreeze({
    baseUrl,
    streamUrl,
    auth,
    otherAuth,
    headers,
    profile,
    connectTimeoutMs: flags.connectTimeout ?? checkNumber(file.connectTimeoutMs ?? 5_000, 'connectTimeoutMs'),
    headersTimeoutMs: checkNumber(file.headersTimeoutMs ?? 10_000, 'headersTimeoutMs'),
    maxLineBytes: checkNumber(file.maxLineBytes ?? 1_048_576, 'maxLineBytes'),
    insecure: flags.insecure === true,
    followRedirects: flags.followRedirects === true,
    logFields: checkLogFields(file.logFields ?? {}),
  });
}

/** `--max-retries`, `--retry-delays` and `--silence` override the profile's client policy. */
function withClientFlags(client: ProfileClient, flags: TargetFlags): ProfileClient {
  return {
    ...client,
    maxRetries: flags.maxRetries ?? client.maxRetries,
    retryDelaysSeconds: flags.retryDelays?.map((ms) => ms / 1000) ?? client.retryDelaysSeconds,
    silenceSeconds: flags.silence === undefined ? client.silenceSeconds : flags.silence / 1000,
  };
}

function pickProfileName(flags: TargetFlags, file: ConfigFile): ProfileName {
  const fromFile = typeof file.profile === 'string' ? file.profile : file.profile?.base;
  const requested = flags.profile ?? (flags.url !== undefined ? 'generic' : fromFile) ?? 'generations';
  if (!(PROFILE_NAMES as readonly string[]).includes(requested)) {
    const where = flags.profile !== undefined ? '--profile' : 'profile';
    throw new ConfigError(`${where}: unknown profile "${requested}" (expected one of ${PROFILE_NAMES.join(', ')})`);
  }
  return requested as ProfileName;
}

function readConfigFile(explicitPath: string | undefined, cwd: string): ConfigFile {
  const path = resolve(cwd, explicitPath ?? CONFIG_FILE);
  if (!existsSync(path)) {
    if (explicitPath !== undefined) throw new ConfigError(`--config: no such file ${path}`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${path}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (!isPlainObject(parsed)) throw new ConfigError(`${path}: expected a JSON object at the top level`);
  const known = ['baseUrl', 'auth', 'otherAuth', 'headers', 'profile', 'connectTimeoutMs', 'headersTimeoutMs', 'maxLineBytes', 'logFields'];
  for (const key of Object.keys(parsed)) {
    if (!known.includes(key)) throw new ConfigError(`${key}: unknown config key${suggest(key, known)}`);
  }
  for (const key of ['baseUrl', 'auth', 'otherAuth'] as const) {
    if (parsed[key] !== undefined && typeof parsed[key] !== 'string') throw new ConfigError(`${key}: expected a string`);
  }
  if (parsed.profile !== undefined && typeof parsed.profile !== 'string' && !isPlainObject(parsed.profile)) {
    throw new ConfigError('profile: expected a profile name or an object');
  }
  return parsed as ConfigFile;
}

/**
 * Overlays `override` on `base`, taking each default's type as the schema, so a typo or a
 * wrong type is reported with its full path (`profile.limits.heartbeatSeconds: expected a finite number of seconds >= 0`).
 */
function mergeChecked(base: unknown, override: unknown, path: string): unknown {
  if (override === undefined) return base;
  if (Array.isArray(base)) {
    const itemType = typeof base[0];
    if (!Array.isArray(override) || override.some((item) => typeof item !== itemType)) {
      throw new ConfigError(`${path}: expected an array of ${itemType}s`);
    }
    return override.map((item: unknown, index) => (itemType === 'number' ? checkNumber(item, `${path}[${index}]`) : item));
  }
  if (isPlainObject(base)) {
    if (!isPlainObject(override)) throw new ConfigError(`${path}: expected an object`);
    const merged: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(override)) {
      if (!(key in base)) throw new ConfigError(`${path}.${key}: unknown key${suggest(key, Object.keys(base))}`);
      merged[key] = mergeChecked(base[key], value, `${path}.${key}`);
    }
    return merged;
  }
  if (typeof base === 'number') return checkNumber(override, path);
  if (typeof override !== typeof base) throw new ConfigError(`${path}: expected a ${typeof base}`);
  return override;
}

/**
 * Numbers of the config: finite, not negative; a number of seconds also within the range every
 * wait is clamped to (`DELAY_RANGE_MS`), so a schedule cannot ask for what the tool will not do.
 */
function checkNumber(value: unknown, path: string): number {
  const seconds = /Seconds(\[\d+\])?$/.test(path);
  // The client's waits (retry schedule, 429 fallback, silence) are delays; the contract's limits may be longer.
  const delay = seconds && path.startsWith('profile.client.');
  const expected = `a finite number${seconds ? ' of seconds' : ''} >= 0${delay ? ` and <= ${DELAY_RANGE_MS.max / 1000}` : ''}`;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (delay && value * 1000 > DELAY_RANGE_MS.max)) {
    throw new ConfigError(`${path}: expected ${expected}${typeof value === 'number' ? `, got ${value}` : ''}`);
  }
  return value;
}

function checkHeaderRecord(value: unknown, path: string): Record<string, string> {
  if (!isPlainObject(value)) throw new ConfigError(`${path}: expected an object of header names to strings`);
  for (const [name, headerValue] of Object.entries(value)) {
    if (typeof headerValue !== 'string') throw new ConfigError(`${path}.${name}: expected a string`);
    checkHeaderName(name, `${path}.${name}`);
    checkHeaderValue(headerValue, `${path}.${name}`, ConfigError);
  }
  return value as Record<string, string>;
}

function checkLogFields(value: unknown): Record<string, string> {
  if (!isPlainObject(value)) throw new ConfigError('logFields: expected an object of field names to JSON paths');
  for (const [name, path] of Object.entries(value)) {
    if (!LOG_FIELDS.includes(name)) throw new ConfigError(`logFields.${name}: unknown field${suggest(name, LOG_FIELDS)} (known: ${LOG_FIELDS.join(', ')})`);
    if (typeof path !== 'string' || path === '') throw new ConfigError(`logFields.${name}: expected a field name (dotted paths allowed)`);
  }
  return value as Record<string, string>;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function checkHeaderName(name: string, where: string): void {
  if (!HEADER_NAME.test(name)) throw new ConfigError(`${where}: "${name}" is not a valid header name`);
}

/**
 * A header value with CR, LF or NUL would end the header early and smuggle the rest into the
 * request (or make undici throw mid-run): a usage error, said up front. The value is not echoed:
 * it may be a credential.
 */
function checkHeaderValue(value: string, where: string, error: typeof UsageError | typeof ConfigError): string {
  if (/[\r\n\0]/.test(value)) throw new error(`${where}: the value holds a line break (CR/LF) or NUL, which cannot go in an HTTP header; remove it`);
  return value;
}

/** `-H 'Name: value'`, as curl takes it. */
export function parseHeaderFlags(values: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const raw of values) {
    const colon = raw.indexOf(':');
    if (colon <= 0) throw new UsageError(`-H "${raw}": expected "Name: value"`);
    const name = raw.slice(0, colon).trim();
    checkHeaderName(name, `-H "${name}: …"`);
    headers[name] = checkHeaderValue(raw.slice(colon + 1).trim(), `-H "${name}: …"`, UsageError);
  }
  return headers;
}

/** Accepts only absolute http(s) URLs; drops a trailing slash so paths join predictably. */
export function normaliseUrl(raw: string, where: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${where}: "${raw}" is not a valid URL (expected e.g. http://127.0.0.1:8000/api)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${where}: "${raw}" must be an http:// or https:// URL`);
  }
  return url.href.replace(/\/$/, '');
}

/** A bearer goes into `Authorization: Bearer …`, so it obeys the header value rules. */
function bearerOf(value: string | undefined, where: string): string | undefined {
  const bearer = nonEmpty(value);
  return bearer === undefined ? undefined : checkHeaderValue(bearer, where, where === 'auth' || where === 'otherAuth' ? ConfigError : UsageError);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function withoutKey(object: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _dropped, ...rest } = object;
  return rest;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** eventsource-parser style: "Did you mean …" when a key is one edit or a case away. */
function suggest(key: string, known: readonly string[]): string {
  const close = known.find((candidate) => candidate.toLowerCase() === key.toLowerCase() || editDistance(candidate, key) <= 2);
  return close ? ` (did you mean "${close}"?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
