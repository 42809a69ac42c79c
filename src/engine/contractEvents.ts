import type { Profile } from './target.js';
import type { SseEvent } from './sseDecoder.js';

/** The fields of a contract event's JSON data (docs/contract.md "Stream endpoint rules"). */
export interface ContractEventData {
  generation_id?: unknown;
  status?: unknown;
  stage?: unknown;
  progress?: unknown;
  message?: unknown;
  timestamp?: unknown;
  reason?: unknown;
}

/** The event's data as a JSON object, or undefined when it is not one. */
export function parseEventData(event: SseEvent): ContractEventData | undefined {
  const first = event.data.charCodeAt(0);
  if (first !== 123 /* { */) return undefined;
  try {
    const value: unknown = JSON.parse(event.data);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as ContractEventData) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The profile's terminal-event test. The data is parsed only when it mentions a terminal word at
 * all (one pass of one regular expression), so the hot path of a fast stream stays a scan of each
 * event's data.
 */
export function terminalEventTest(profile: Profile): (event: SseEvent) => boolean {
  const { statuses, stages, eventTypes, data: endData } = profile.terminal;
  const words = [...statuses, ...stages];
  const mentionsWord = words.length === 0 ? undefined : new RegExp(words.map(escapeRegExp).join('|'));
  // Terminal data is short (`[DONE]`): longer data is not compared at all.
  const longestEndData = Math.max(0, ...endData.map((text) => text.length));
  return (event) => {
    if (event.event !== undefined && eventTypes.includes(event.event)) return true;
    if (event.data.length <= longestEndData + 2 && endData.includes(event.data.trim())) return true;
    if (mentionsWord === undefined || !mentionsWord.test(event.data)) return false;
    const data = parseEventData(event);
    return data !== undefined && (statuses.includes(data.status as string) || stages.includes(data.stage as string));
  };
}

/**
 * Whether the data is a connection's `connected` event. Its progress is a snapshot of the
 * generation as of the connection (0.0 in seed 000 even on a resume, the current one elsewhere),
 * not a step of the stream's progress: it is left out when progress must never go back.
 */
export function isConnectedEvent(data: ContractEventData): boolean {
  return data.stage === 'connected';
}

/** Whether an event is a heartbeat by type (comments are heartbeats too, counted elsewhere). */
export function isHeartbeatEvent(event: SseEvent): boolean {
  return event.event === 'heartbeat';
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
