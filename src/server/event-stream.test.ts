import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { seededKey, smallCommunity } from '../../test/support/community.ts';
import { Signer } from '../client.ts';
import { EntryEvents, type EventStreamOptions, resumeAfter, streamEvents } from './event-stream.ts';
import { EventHub } from './events.ts';

interface Sse {
  id?: string;
  event: string;
  data: string;
}

/** Reads a stream as EventSource does: only whole events (ended by a blank line) count; comments are kept apart. */
async function open(url: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal, headers });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: Sse[] = [];
  let comments = 0;
  const more = async () => {
    const { value, done } = await reader.read();
    if (done) throw new Error('stream ended');
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (block.startsWith(':')) {
        comments++;
        continue;
      }
      const e: Sse = { event: 'message', data: '' };
      for (const line of block.split('\n')) {
        const [k, ...v] = line.split(': ');
        if (k === 'id') e.id = v.join(': ');
        if (k === 'event') e.event = v.join(': ');
        if (k === 'data') e.data = v.join(': ');
      }
      events.push(e);
    }
  };
  return {
    status: res.status,
    events,
    comments: () => comments,
    /** until reads until `ok` holds of what was read. */
    async until(ok: () => boolean) {
      while (!ok()) await more();
    },
    close: () => ac.abort(),
  };
}

describe('resumable server-sent events', { timeout: 20_000 }, () => {
  let c: Awaited<ReturnType<typeof smallCommunity>>;
  let server: Server;
  let base: string;
  let hub: EventHub;
  let dso: Signer;
  let options: EventStreamOptions;
  const announced = async (tx: unknown) => {
    const r = await c.ledger.submit(tx as never);
    assert.ok(r.ok, JSON.stringify(r));
    for (const e of EventHub.forEntry(r.entry, (tx as { type: string }).type, (tx as { body: Record<string, unknown> }).body)) hub.emit(e);
    return r.entry;
  };
  const feeder = (id: string) => dso.sign('feeder.define', { id, parent: 'substation-1' });
  const entryIds = (events: Sse[]) => events.filter((e) => e.id !== undefined).map((e) => e.id!);

  before(async () => {
    c = await smallCommunity();
    hub = new EventHub();
    dso = Signer.forState(c.ledger.state, seededKey('dso'), () => '2026-02-10T12:00:00Z');
    options = { ledger: c.ledger, events: hub, heartbeatMs: 40, pollMs: 30, maxReplay: 15 };
    const log = new EntryEvents(c.ledger, 16);
    server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const last = req.headers['last-event-id'];
      const after = url.searchParams.get('after');
      try {
        const start = typeof last === 'string' ? resumeAfter(last, 'last-event-id') : after !== null ? resumeAfter(after, 'query.after') : undefined;
        streamEvents(req, res, options, log, start);
      } catch (e) {
        res.writeHead(400).end((e as Error).message);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await c.ledger.close();
  });

  test('each entry event carries its place in the log; a stream cut mid-way resumes from Last-Event-ID with no gap and no repeat', async () => {
    const first = await open(base);
    await first.until(() => first.events.some((e) => e.event === 'hello'));
    const from = JSON.parse(first.events[0]!.data).size as number;
    const entries: number[] = [];
    for (let i = 0; i < 6; i++) entries.push(await announced(feeder(`sse-a${i}`)));
    await first.until(() => entryIds(first.events).length >= 3);
    first.close();
    const seen = entryIds(first.events);
    // While the client is away: more entries, one of them appended without any announcement (as by another process).
    for (let i = 0; i < 5; i++) entries.push(await announced(feeder(`sse-b${i}`)));
    const silent = await c.ledger.submit(feeder('sse-silent') as never);
    assert.ok(silent.ok);
    entries.push(silent.entry);
    const second = await open(base, { 'last-event-id': seen.at(-1)! });
    await second.until(() => entryIds(second.events).includes(`${silent.entry}.0`));
    second.close();
    const all = [...seen, ...entryIds(second.events)];
    assert.deepEqual(all, entries.map((e) => `${e}.0`), 'every entry once, in log order');
    assert.deepEqual(entries, Array.from({ length: entries.length }, (_, i) => from + i));
    assert.ok(second.events.filter((e) => e.event === 'entry').every((e) => JSON.parse(e.data).type === 'feeder.define'));
  });

  test('?after= resumes after the event it names: the next event of that entry, else the next entry', async () => {
    const clear = await announced(feeder('sse-c'));
    const s = await open(`${base}?after=${clear}.0`);
    const next = await announced(feeder('sse-d'));
    await s.until(() => entryIds(s.events).includes(`${next}.0`));
    s.close();
    assert.deepEqual(entryIds(s.events), [`${next}.0`]);
  });

  test('heartbeats flow on a quiet stream; a client too far behind is told to reset; a malformed id is refused', async () => {
    const quiet = await open(base);
    await quiet.until(() => quiet.comments() >= 2);
    quiet.close();
    const far = await open(base, { 'last-event-id': '0.0' });
    await far.until(() => far.events.some((e) => e.event === 'reset'));
    far.close();
    assert.deepEqual(Object.keys(JSON.parse(far.events.find((e) => e.event === 'reset')!.data)), ['from', 'size']);
    for (const bad of ['x', '1', '1.2.3', '-1.0', '01.0']) assert.throws(() => resumeAfter(bad, 'last-event-id'), /last-event-id: .* is not an event id/);
    assert.deepEqual(resumeAfter('41.2', 'f'), { entry: 41, k: 3 });
  });
});

describe('GET /v1/events of the API', { timeout: 30_000 }, () => {
  test('resumes from Last-Event-ID through the route, refuses a malformed one with 400 naming the header, and beats', async () => {
    const { randomBytes } = await import('node:crypto');
    const { join } = await import('node:path');
    const { buildApp } = await import('./app.ts');
    const { PersonalVault } = await import('./vault.ts');
    const c = await smallCommunity();
    const vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    const T = '2026-02-10T12:00:00Z';
    const { app } = await buildApp({ ledger: c.ledger, vault, tokenSecret: randomBytes(32), txClock: () => Date.parse(T), eventHeartbeatMs: 50 });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const dso = Signer.forState(c.ledger.state, seededKey('dso'), () => T);
      const post = (tx: unknown) => fetch(`${base}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tx) }).then(async (r) => (await r.json()) as { entry: number });
      const s = await open(`${base}/v1/events`);
      const a = await post(dso.sign('feeder.define', { id: 'route-a', parent: 'substation-1' }));
      await s.until(() => s.events.some((e) => e.id === `${a.entry}.0`));
      s.close();
      const b = await post(dso.sign('feeder.define', { id: 'route-b', parent: 'substation-1' }));
      const r = await open(`${base}/v1/events`, { 'last-event-id': `${a.entry}.0` });
      await r.until(() => r.events.some((e) => e.id === `${b.entry}.0`) && r.comments() >= 1);
      r.close();
      assert.deepEqual(r.events.filter((e) => e.id).map((e) => e.id), [`${b.entry}.0`]);
      const bad = await fetch(`${base}/v1/events`, { headers: { 'last-event-id': 'yesterday' } });
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { field: string }).field, 'last-event-id');
    } finally {
      await app.close();
      vault.close();
      await c.ledger.close();
    }
  });
});
