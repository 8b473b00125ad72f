import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OpenlecError } from '../errors.ts';
import { decodeEntry } from '../ledger/index.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { EventHub, type LogEvent } from './events.ts';

/**
 * Server-sent events that a client can resume. The events of an entry are read from the
 * log, in log order, whoever appended it (this process, another `serve --pg` process): each
 * carries the id `<entry>.<k>` (its k-th event), so a client that reconnects with
 * `Last-Event-ID` (EventSource sends it by itself) or `?after=` gets every later event once,
 * with no gap and no repeat. Checkpoint notices are not entries: they carry no id and are
 * not replayed (GET /v1/checkpoints has them all). A comment line every `heartbeatMs` keeps
 * proxies from closing a quiet stream.
 */
export interface EventStreamOptions {
  ledger: LedgerStore;
  events: EventHub;
  /** A comment line this often (default 15 s). */
  heartbeatMs?: number;
  /** How often the log's size is looked at, for entries another process appended (default 1 s). */
  pollMs?: number;
  /** A client further behind than this many entries gets a `reset` event and the live stream from the end (default 10,000). */
  maxReplay?: number;
}

/** A place in the stream: the next event to send is the k-th of entry `entry`. */
interface Cursor {
  entry: number;
  k: number;
}

const ID = /^(0|[1-9]\d{0,14})\.(0|[1-9]\d{0,3})$/;

/** resumeAfter reads an event id (`<entry>.<k>`) as the place after it; anything else is refused naming the header or query field. */
export function resumeAfter(id: string, field: string): Cursor {
  const m = ID.exec(id.trim());
  if (!m) throw new OpenlecError('E_REQUEST', `${field}: ${JSON.stringify(id.slice(0, 40))} is not an event id of this stream (<entry>.<k>, as its events carry)`, { field });
  return { entry: Number(m[1]), k: Number(m[2]) + 1 };
}

/** The events of log entries, decoded once and kept for the most recent ones: every open stream reads through it. */
export class EntryEvents {
  private readonly kept = new Map<number, LogEvent[]>();

  constructor(private readonly ledger: LedgerStore, private readonly keep = 8_192) {}

  /** of gives the events of entries [from, to), reading from the log only what is not kept. */
  async of(from: number, to: number): Promise<LogEvent[][]> {
    let missing = from;
    while (missing < to && this.kept.has(missing)) missing++;
    if (missing < to) {
      let end = missing + 1;
      while (end < to && !this.kept.has(end)) end++;
      const entries = await this.ledger.readEntries(missing, end);
      if (entries.length === 0) throw new OpenlecError('E_STORE_READ', `entries ${missing}..${end - 1} could not be read`);
      entries.forEach((e, i) => {
        const { tx } = decodeEntry(e.bytes);
        this.put(missing + i, EventHub.forEntry(missing + i, tx.type, tx.body as Record<string, unknown>));
      });
    }
    const out: LogEvent[][] = [];
    for (let i = from; i < to; i++) {
      const evs = this.kept.get(i);
      if (!evs) return [...out, ...(await this.of(i, to))];
      out.push(evs);
    }
    return out;
  }

  private put(entry: number, events: LogEvent[]): void {
    if (this.kept.size >= this.keep) this.kept.delete(this.kept.keys().next().value!);
    this.kept.set(entry, events);
  }
}

const CHUNK = 256;

/** streamEvents serves one event stream on a raw response, from `start` (resume) or from the end of the log. */
export function streamEvents(req: IncomingMessage, res: ServerResponse, o: EventStreamOptions, log: EntryEvents, start: Cursor | undefined): void {
  const { ledger, events } = o;
  const size = ledger.size;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ size, ...(start ? { resumedAt: start.entry } : {}) })}\n\n`);
  let next: Cursor = { entry: size, k: 0 };
  if (start && start.entry <= size) {
    if (size - start.entry > (o.maxReplay ?? 10_000)) {
      // Too far behind to replay: the client re-reads what it shows, then follows from here.
      res.write(`event: reset\ndata: ${JSON.stringify({ from: start.entry, size })}\n\n`);
    } else next = start;
  }
  let closed = false;
  let pumping = false;
  let again = false;
  const write = async (text: string) => {
    if (!res.write(text) && !closed) await once(res, 'drain');
  };
  // One pump at a time sends the log from the cursor to its end; a wake-up during a pump makes it look again.
  const pump = async (): Promise<void> => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        while (!closed && next.entry < ledger.size) {
          const to = Math.min(ledger.size, next.entry + CHUNK);
          const batches = await log.of(next.entry, to);
          let text = '';
          batches.forEach((evs, i) => {
            const entry = next.entry + i;
            for (let k = i === 0 ? next.k : 0; k < evs.length; k++) text += `id: ${entry}.${k}\nevent: ${evs[k]!.event}\ndata: ${JSON.stringify(evs[k]!.data)}\n\n`;
          });
          next = { entry: to, k: 0 };
          if (text) await write(text);
        }
      } while (again && !closed);
    } catch {
      // The log could not be read (closing store): end the stream; the client resumes from its last id.
      closed = true;
      res.end();
    } finally {
      pumping = false;
    }
  };
  const off = events.on((e) => {
    if (e.event === 'checkpoint' || e.event === 'checkpoint-final') {
      if (!closed) res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
    } else void pump();
  });
  const poll = setInterval(() => void pump(), o.pollMs ?? 1_000);
  const beat = setInterval(() => {
    if (!closed) res.write(': heartbeat\n\n');
  }, o.heartbeatMs ?? 15_000);
  const stop = () => {
    closed = true;
    off();
    clearInterval(poll);
    clearInterval(beat);
    res.emit('drain');
  };
  req.on('close', stop);
  res.on('close', stop);
  void pump();
}
