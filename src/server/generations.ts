import { randomUUID } from 'node:crypto';
import type { ServerTimings } from './settings.js';

/** The lifecycle of CONTRACT.md: `pending -> processing -> completed | failed | cancelled`. */
export type GenerationStatus = 'pending' | 'processing' | 'completed' | 'failed' | 'cancelled';

/** The SSE `event:` types a generation's log holds. */
export type GenerationEventType = 'progress' | 'content_chunk' | 'complete' | 'error';

/** One entry of a generation's event log; `id` is its SSE id, 1, 2, 3… per generation. */
export interface GenerationEvent {
  readonly id: number;
  readonly type: GenerationEventType;
  readonly status: GenerationStatus;
  readonly stage: string;
  readonly progress: number;
  readonly message: string;
  /** Unix seconds with a fraction. */
  readonly timestamp: number;
}

/** Told about every event appended to a generation, with the event already framed for the wire. */
export type GenerationListener = (event: GenerationEvent, frame: string) => void;

/** A generation and its event log. Mutated only by its own timeline. */
export interface Generation {
  readonly id: string;
  readonly owner: string;
  readonly prompt: string;
  readonly createdAt: string;
  status: GenerationStatus;
  progress: number;
  errorMessage: string | null;
  readonly events: GenerationEvent[];
  readonly listeners: Set<GenerationListener>;
  /** Stream connections opened so far; the `drop-mid-stream` fault cuts only the first. */
  streamsOpened: number;
  timer: NodeJS.Timeout | undefined;
}

/** Where the timeline stands, as a fraction of `generationMs`. */
const STARTED_AT = 0.05;
/** End of the silent "thinking" phase: long enough (70% of a generation) to expose a missing heartbeat. */
const THINKING_ENDS_AT = 0.75;
const CHUNK_SPACING = 0.04;

const CONTENT_CHUNKS = [
  'Server-Sent Events ',
  'keep one HTTP response open ',
  'and write events down it ',
  'as they happen; ',
  'heartbeats fill the silences ',
  'and a terminal event says when to stop.',
];

export const SIMULATED_ERROR = 'Model returned malformed output (simulated failure)';

const TERMINAL: ReadonlySet<GenerationStatus> = new Set(['completed', 'failed', 'cancelled']);

export function isTerminal(status: GenerationStatus): boolean {
  return TERMINAL.has(status);
}

/** A prompt naming the word `fail` makes a generation that fails (CONTRACT.md "Fixtures"). */
const FAILING_PROMPT = /\bfail\b/i;

/** Generations kept in memory; beyond this the oldest goes, so load runs stay bounded. */
const MAX_GENERATIONS = 100_000;

type TimelineStep = { readonly at: number } & Omit<GenerationEvent, 'id' | 'timestamp'>;

const SUCCESS_TIMELINE: readonly TimelineStep[] = [
  { at: STARTED_AT, type: 'progress', status: 'processing', stage: 'started', progress: 0.05, message: 'Generation started' },
  ...CONTENT_CHUNKS.map(
    (message, index): TimelineStep => ({
      at: THINKING_ENDS_AT + index * CHUNK_SPACING,
      type: 'content_chunk',
      status: 'processing',
      stage: 'generating',
      progress: Math.round((0.8 + index * 0.03) * 100) / 100,
      message,
    }),
  ),
  { at: 1, type: 'complete', status: 'completed', stage: 'complete', progress: 1, message: 'Generation completed' },
];

const FAILURE_TIMELINE: readonly TimelineStep[] = [
  SUCCESS_TIMELINE[0] as TimelineStep,
  { at: THINKING_ENDS_AT, type: 'error', status: 'failed', stage: 'error', progress: 0.05, message: SIMULATED_ERROR },
];

/** The SSE frame of a log entry: `id:`, `event:` and the contract's JSON data. */
export function eventFrame(generation: Generation, event: GenerationEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${eventData(generation, event)}\n\n`;
}

/** The contract's event JSON for `generation` in its current state, with a stage and message of the caller's. */
export function eventData(
  generation: Generation,
  event: Pick<GenerationEvent, 'status' | 'stage' | 'progress' | 'message'> & { timestamp?: number },
): string {
  return JSON.stringify({
    generation_id: generation.id,
    status: event.status,
    stage: event.stage,
    progress: event.progress,
    message: event.message,
    timestamp: event.timestamp ?? Date.now() / 1000,
  });
}

/**
 * All generations, each advanced by its own timer (one per generation, never one per stream)
 * and broadcast to whoever listens.
 */
export class GenerationStore {
  private readonly generations = new Map<string, Generation>();

  constructor(private readonly timings: ServerTimings) {}

  create(owner: string, prompt: string): Generation {
    if (this.generations.size >= MAX_GENERATIONS) this.evictOldest();
    const generation: Generation = {
      id: randomUUID(),
      owner,
      prompt,
      createdAt: new Date().toISOString(),
      status: 'pending',
      progress: 0,
      errorMessage: null,
      events: [],
      listeners: new Set(),
      streamsOpened: 0,
      timer: undefined,
    };
    this.generations.set(generation.id, generation);
    this.schedule(generation, FAILING_PROMPT.test(prompt) ? FAILURE_TIMELINE : SUCCESS_TIMELINE, 0, performance.now());
    return generation;
  }

  get(id: string): Generation | undefined {
    return this.generations.get(id);
  }

  /** Stops every timeline; the store is unusable afterwards. */
  close(): void {
    for (const generation of this.generations.values()) clearTimeout(generation.timer);
    this.generations.clear();
  }

  private schedule(generation: Generation, timeline: readonly TimelineStep[], index: number, startedAt: number): void {
    const step = timeline[index];
    if (!step) {
      generation.timer = undefined;
      return;
    }
    // Aim at the absolute time of the step, so timer lateness does not accumulate along the timeline.
    const delay = Math.max(0, startedAt + step.at * this.timings.generationMs - performance.now());
    generation.timer = setTimeout(() => {
      this.apply(generation, step);
      this.schedule(generation, timeline, index + 1, startedAt);
    }, delay);
  }

  private apply(generation: Generation, step: TimelineStep): void {
    generation.status = step.status;
    generation.progress = step.progress;
    if (step.type === 'error') generation.errorMessage = step.message;
    const event: GenerationEvent = {
      id: generation.events.length + 1,
      type: step.type,
      status: step.status,
      stage: step.stage,
      progress: step.progress,
      message: step.message,
      timestamp: Date.now() / 1000,
    };
    generation.events.push(event);
    if (generation.listeners.size === 0) return;
    const frame = eventFrame(generation, event);
    for (const listener of generation.listeners) listener(event, frame);
  }

  /** Streams still following an evicted generation see no more events and end at their duration cap. */
  private evictOldest(): void {
    const oldest = this.generations.values().next().value;
    if (!oldest) return;
    clearTimeout(oldest.timer);
    this.generations.delete(oldest.id);
  }
}
