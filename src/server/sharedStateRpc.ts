import type { Worker } from 'node:cluster';
import { SharedStateUnavailable, type SharedState } from './sharedState.js';

/** The calls a worker may make on its primary's shared state. */
const METHODS = ['createGeneration', 'generation', 'issueToken', 'redeemToken', 'checkRate', 'countStream'] as const satisfies readonly (keyof SharedState)[];
type Method = (typeof METHODS)[number];
type Result<M extends Method> = Awaited<ReturnType<SharedState[M]>>;

interface StateRequest {
  readonly type: 'state-request';
  readonly id: number;
  readonly method: Method;
  readonly args: readonly unknown[];
}

/** `value` is absent for `undefined` (IPC messages are JSON). */
type StateReply = { readonly type: 'state-reply'; readonly id: number } & ({ readonly value?: unknown } | { readonly error: string });

interface PendingCall {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Long enough for a primary busy with a burst of tens of thousands of connections. A primary
 * that is gone needs no timeout: node:cluster ends its workers on the IPC disconnect.
 */
const REPLY_TIMEOUT_MS = 10_000;

/** A worker's view of the shared state: every call is a request to the primary over the cluster IPC channel. */
export class IpcSharedState implements SharedState {
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();

  constructor() {
    process.on('message', (message: unknown) => {
      if (isStateReply(message)) this.settle(message);
    });
  }

  createGeneration(owner: string, prompt: string) {
    return this.call('createGeneration', owner, prompt);
  }

  generation(id: string) {
    return this.call('generation', id);
  }

  issueToken(generationId: string) {
    return this.call('issueToken', generationId);
  }

  redeemToken(token: string, generationId: string, reusable: boolean) {
    return this.call('redeemToken', token, generationId, reusable);
  }

  checkRate(key: string) {
    return this.call('checkRate', key);
  }

  countStream(generationId: string) {
    return this.call('countStream', generationId);
  }

  private call<M extends Method>(method: M, ...args: Parameters<SharedState[M]>): Promise<Result<M>> {
    return new Promise((resolve, reject) => {
      if (!process.connected || !process.send) {
        reject(new SharedStateUnavailable('the primary process is gone'));
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => this.timeOut(id, method), REPLY_TIMEOUT_MS);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      const request: StateRequest = { type: 'state-request', id, method, args };
      process.send(request);
    });
  }

  private settle(reply: StateReply): void {
    const call = this.pending.get(reply.id);
    if (!call) return;
    this.pending.delete(reply.id);
    clearTimeout(call.timer);
    if ('error' in reply) call.reject(new Error(`shared state: ${reply.error}`));
    else call.resolve(reply.value);
  }

  private timeOut(id: number, method: Method): void {
    const call = this.pending.get(id);
    if (!call) return;
    this.pending.delete(id);
    call.reject(new SharedStateUnavailable(`the primary did not answer ${method} within ${REPLY_TIMEOUT_MS / 1000} s`));
  }
}

/** Answers `worker`'s shared-state requests from `state`; other messages are left to the caller. */
export function answerStateRequests(worker: Worker, state: SharedState): void {
  worker.on('message', (message: unknown) => {
    if (!isStateRequest(message)) return;
    const invoke = state[message.method] as (...args: unknown[]) => Promise<unknown>;
    invoke.call(state, ...message.args).then(
      (value) => reply(worker, { type: 'state-reply', id: message.id, value }),
      (error: unknown) => reply(worker, { type: 'state-reply', id: message.id, error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

function reply(worker: Worker, message: StateReply): void {
  // A worker that died meanwhile has no one waiting for the answer.
  if (worker.isConnected()) worker.send(message);
}

function isStateRequest(message: unknown): message is StateRequest {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as StateRequest).type === 'state-request' &&
    (METHODS as readonly unknown[]).includes((message as StateRequest).method) &&
    Array.isArray((message as StateRequest).args)
  );
}

function isStateReply(message: unknown): message is StateReply {
  return typeof message === 'object' && message !== null && (message as StateReply).type === 'state-reply';
}
