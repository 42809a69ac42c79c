import type { ServerTimings } from './settings.js';
import { MAX_GENERATIONS, type GenerationRecord } from './generationRecord.js';
import type { SharedState } from './sharedState.js';

/** The lifecycle of docs/contract.md: `pending -> processing -> completed | failed | cancelled`. */
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

/** A process's replica of a generation and its event log. Mutated only by its own timeline. */
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
 * This process's replicas of the shared generation records, each advanced by its own timer (one
 * per generation, never one per stream) and broadcast to whoever listens here. A replica made
 * after its generation started catches up at once, so every process agrees on its state.
 */
export class GenerationStore {
  private readonly generations = new Map<string, Generation>();

  constructor(
    private readonly timings: ServerTimings,
    private readonly state: SharedState,
  ) {}

  async create(owner: string, prompt: string): Promise<Generation> {
    return this.follow(await this.state.createGeneration(owner, prompt));
  }

  /** The replica of generation `id`, made from its shared record on first use here. */
  async find(id: string): Promise<Generation | undefined> {
    const replica = this.generations.get(id);
    if (replica) return replica;
    const record = await this.state.generation(id);
    return record && this.follow(record);
  }

  /** Stops every timeline; the store is unusable afterwards. */
  close(): void {
    for (const generation of this.generations.values()) clearTimeout(generation.timer);
    this.generations.clear();
  }

  /** The replica of `record`: the one already here (another request may have made it meanwhile), or a new one. */
  private follow(record: GenerationRecord): Generation {
    const existing = this.generations.get(record.id);
    if (existing) return existing;
    if (this.generations.size >= MAX_GENERATIONS) this.evictOldest();
    const generation: Generation = {
      id: record.id,
      owner: record.owner,
      prompt: record.prompt,
      createdAt: new Date(record.createdAtMs).toISOString(),
      status: 'pending',
      progress: 0,
      errorMessage: null,
      events: [],
      listeners: new Set(),
      timer: undefined,
    };
    this.generations.set(generation.id, generation);
    const timeline = record.failing ? FAILURE_TIMELINE : SUCCESS_TIMELINE;
    const elapsedMs = Date.now() - record.createdAtMs;
    let next = 0;
    for (const step of timeline) {
      const dueMs = step.at * this.timings.generationMs;
      if (dueMs > elapsedMs) break;
      // Already past: stamped with the time it was due, as a replica that saw it live stamped it.
      this.apply(generation, step, (record.createdAtMs + dueMs) / 1000);
      next++;
    }
    this.schedule(generation, timeline, next, performance.now() - elapsedMs);
    return generation;
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
      this.apply(generation, step, Date.now() / 1000);
      this.schedule(generation, timeline, index + 1, startedAt);
    }, delay);
  }

  private apply(generation: Generation, step: TimelineStep, timestamp: number): void {
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
      timestamp,
    };
    generation.events.push(event);
    if (generation.listeners.size === 0) return;
    const frame = eventFrame(generation, event);
    for (const listener of generation.listeners) listener(event, frame);
  }

  /**
   * Streams still following an evicted replica see no more events and end at their duration cap.
   * A later request for it makes a fresh replica from the shared record, if that is still kept.
   */
  private evictOldest(): void {
    const oldest = this.generations.values().next().value;
    if (!oldest) return;
    clearTimeout(oldest.timer);
    this.generations.delete(oldest.id);
  }
}
