import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The subset of JSON Schema (2020-12) that docs/schemas/*.schema.json use: type, const, enum,
 * properties, required, additionalProperties, items, minItems, minimum, maximum, pattern,
 * oneOf and local `$ref`s. A keyword outside it throws, so a schema cannot silently go unchecked.
 */
export type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema', '$id', '$defs', 'title', 'description',
  'type', 'const', 'enum', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'minimum', 'maximum', 'pattern', 'oneOf', '$ref',
]);

export function loadSchema(name: string): Schema {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'schemas', `${name}.schema.json`), 'utf8')) as Schema;
}

/** Every way `value` breaks `schema`, each with its JSON path; empty when it conforms. */
export function schemaErrors(value: unknown, schema: Schema, root: Schema = schema, path = '$'): string[] {
  for (const keyword of Object.keys(schema)) if (!KNOWN.has(keyword)) throw new Error(`${path}: the test validator does not know "${keyword}"`);
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref.replace(/^#\//, '').split('/').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], root);
    if (target === undefined) throw new Error(`${path}: unresolved ${schema.$ref}`);
    return schemaErrors(value, target as Schema, root, path);
  }
  if (Array.isArray(schema.oneOf)) {
    const matching = (schema.oneOf as Schema[]).map((option) => schemaErrors(value, option, root, path));
    const passed = matching.filter((errors) => errors.length === 0).length;
    if (passed === 1) return [];
    return passed === 0 ? [`${path}: matches none of oneOf (closest: ${closest(matching).join('; ')})`] : [`${path}: matches ${passed} of oneOf`];
  }
  const errors: string[] = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((type) => hasType(value, type))) return [`${path}: expected ${types.join(' or ')}, got ${JSON.stringify(value)}`];
  }
  if ('const' in schema && value !== schema.const) errors.push(`${path}: expected ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${path}: ${value} < ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${path}: ${value} > ${schema.maximum}`);
  }
  if (typeof value === 'string' && typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${path}: "${value}" does not match ${schema.pattern}`);
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.items !== undefined) value.forEach((item, index) => errors.push(...schemaErrors(item, schema.items as Schema, root, `${path}[${index}]`)));
  }
  if (isObject(value)) {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in value)) errors.push(`${path}: missing "${key}"`);
    for (const [key, child] of Object.entries(value)) {
      if (key in properties) errors.push(...schemaErrors(child, properties[key]!, root, `${path}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${path}: unexpected key "${key}"`);
      else if (isObject(schema.additionalProperties)) errors.push(...schemaErrors(child, schema.additionalProperties, root, `${path}.${key}`));
    }
  }
  return errors;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'integer':
      return Number.isInteger(value);
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
    default:
      return typeof value === type;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function closest(candidates: string[][]): string[] {
  return candidates.reduce((best, errors) => (errors.length < best.length ? errors : best));
}
