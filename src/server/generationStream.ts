import type { IncomingMessage, ServerResponse } from 'node:http';
import { eventData, eventFrame, isTerminal, type Generation, type GenerationListener, type GenerationStore } from './generations.js';
import { sendDetail, sendValidationError } from './jsonHttp.js';
import { lastEventId } from './lastEventId.js';
import type { ServerSettings } from './settings.js';
import { HEARTBEAT_COMMENT, type SseStream, type StreamHub } from './streamHub.js';
import type { SharedState } from './sharedState.js';

/** What the stream endpoint needs from the server. */
export interface GenerationStreamContext {
  readonly settings: ServerSettings;
  readonly generations: GenerationStore;
  readonly state: SharedState;
  readonly hub: StreamHub;
}

/**
 * The `drop-mid-stream` fault cuts the first connection right after this many logged events:
 * early enough (the first is at 5% of the generation) that a client backing off by the
 * contract's 2 s can still resume before the generation ends, as in the seed's network test.
 */
const EVENTS_BEFORE_DROP = 1;

const heartbeatComment = () => HEARTBEAT_COMMENT;

/**
 * `GET /generations/generate/{id}/stream?token=`: the connected event, the log after
 * `Last-Event-ID`, then live events until the terminal one.
 */
export async function serveGenerationStream(
  context: GenerationStreamContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  id: string,
): Promise<void> {
  const { settings, generations, state, hub } = context;
  const token = url.searchParams.get('token');
  if (!settings.has('open-stream')) {
    if (token === null) {
      sendValidationError(res, [{ type: 'missing', loc: ['query', 'token'], msg: 'Field required', input: null }]);
      return;
    }
    if (!(await state.redeemToken(token, id, settings.has('reusable-token')))) {
      sendDetail(res, 401, 'Invalid or expired stream token');
      return;
    }
  }
  const generation = await generations.find(id);
  if (!generation) {
    sendDetail(res, 404, 'Generation not found');
    return;
  }
  // Counted only for the one fault that reads the count: a round trip less per stream for workers.
  const cutsMidStream = settings.has('drop-mid-stream') && (await state.countStream(id)) === 0;
  // The client may have left while the shared state answered; its response is closed for good.
  if (res.destroyed) return;
  if (settings.has('immediate-close') && isTerminal(generation.status)) {
    hub.respondEmpty(res);
    return;
  }

  const lingers = settings.has('linger');
  let eventsWritten = 0;
  const after = settings.has('no-resume') ? 0 : lastEventId(req, url);
  const deliver: GenerationListener = (event, frame) => {
    if (event.id <= after) return;
    stream.write(frame);
    if (++eventsWritten === EVENTS_BEFORE_DROP && cutsMidStream) {
      stream.cut();
    } else if (isTerminal(event.status) && !lingers) {
      stream.end();
    }
  };
  const stream: SseStream = hub.open(res, {
    heartbeat: heartbeatComment,
    atCap: (capped) => capped.write(`event: timeout\ndata: ${stateData(generation, 'timeout', 'Stream duration cap reached')}\n\n`),
    onClose: () => generation.listeners.delete(deliver),
  });

  if (!settings.has('no-connected')) {
    // No `id:` on purpose: a client resuming from it must not skip any of the log.
    stream.write(`data: ${stateData(generation, 'connected', 'Stream connected')}\n\n`);
  }
  for (const event of generation.events) {
    if (stream.closed) return;
    if (event.id > after) deliver(event, eventFrame(generation, event));
  }
  if (stream.closed) return;
  if (isTerminal(generation.status)) {
    // Resumed past the terminal event: the connected event already carried the terminal status.
    if (!lingers) stream.end();
    return;
  }
  generation.listeners.add(deliver);
}

function stateData(generation: Generation, stage: string, message: string): string {
  return eventData(generation, { status: generation.status, stage, progress: generation.progress, message });
}
