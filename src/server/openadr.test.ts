import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { seededKey, signer, smallCommunity } from '../../test/support/community.ts';
import { until } from '../../test/support/until.ts';
import type { Signer } from '../client.ts';
import { sign, toBase64Url, utf8 } from '../ledger/index.ts';
import { buildApp } from './app.ts';
import { DURATION_PATTERN } from './openadr-schemas.ts';
import { OpenAdrStore } from './openadr-store.ts';
import { durationOf } from './openadr.ts';
import { PersonalVault } from './vault.ts';

const V = '/openadr3/3.0.1';

/** The VTN driven over real HTTP as VENs and a DSO would, against a server on loopback. */
describe('OpenADR 3.0.1 VTN', () => {
  let base: string;
  let c: Awaited<ReturnType<typeof smallCommunity>>;
  let agg: Signer;
  let close: () => Promise<void>;
  const tokens = new Map<string, string>();
  const logLines: string[] = [];
  const hooks: { path: string; auth: string | undefined; body: any }[] = [];
  let hookServer: Server;
  let hookBase: string;

  const call = async (method: string, path: string, o: { body?: unknown; as?: string } = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(o.as ? { authorization: `Bearer ${tokens.get(o.as)}` } : {}) },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as any };
  };
  const login = async (label: string, s: Signer) => {
    const ch = await call('POST', '/v1/auth/challenge');
    const signature = toBase64Url(sign(seededKey(label).secretKey, utf8(ch.json.message)));
    const r = await call('POST', '/v1/auth/token', { body: { key: s.actor, challenge: ch.json.challenge, signature } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    tokens.set(label, r.json.token);
  };
  const append = async (tx: unknown) => {
    const r = await call('POST', '/v1/transactions', { body: tx });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  };
  /** Every refusal is an OpenADR problem object. */
  const problem = (r: { status: number; json: any }, status: number, detail?: RegExp) => {
    assert.equal(r.status, status, JSON.stringify(r.json));
    assert.equal(r.json.status, status);
    assert.equal(typeof r.json.type, 'string');
    assert.equal(typeof r.json.title, 'string');
    assert.equal(typeof r.json.detail, 'string');
    if (detail) assert.match(r.json.detail, detail);
  };
  const request = (id: string, o: Record<string, unknown>) => c.dso.sign('flex.request', {
    request: id, maxPriceMicroPerKwh: 300_000, penaltyMicroPerKwh: 100_000, start: '2026-06-01T17:00:00Z', expires: '2026-06-01T12:00:00Z', ...o,
  });

  before(async () => {
    c = await smallCommunity();
    agg = signer('agg');
    const vault = PersonalVault.open(join(c.path, '..', 'personal.db'), randomBytes(32));
    hookServer = createServer((req, res) => {
      let text = '';
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        hooks.push({ path: req.url!, auth: req.headers.authorization, body: JSON.parse(text) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
    hookBase = `http://127.0.0.1:${(hookServer.address() as { port: number }).port}`;
    const { app } = await buildApp({
      ledger: c.ledger, vault, tokenSecret: randomBytes(32), rateLimitPerMinute: 10_000,
      txClock: () => Date.UTC(2026, 0, 1, 0, 30), maxSkewMs: 3_600_000,
      logger: { stream: { write: (line: string) => void logLines.push(line) } },
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    close = async () => {
      await app.close();
      vault.close();
      await c.ledger.close();
      await new Promise((r) => hookServer.close(r));
    };
    await append(c.operator.sign('participant.register', { key: agg.actor, roles: ['aggregator'] }));
    await append(c.alice.sign('asset.register', { asset: 'alice-battery', meter: '30001234567890', kind: 'battery', powerW: 5000, capacityWh: 10_000, aggregator: null }));
    await append(c.bob.sign('asset.register', { asset: 'bob-ev', meter: '30009876543210', kind: 'ev-charger', powerW: 7400, aggregator: agg.actor }));
    // The DSO's congestion request: 260 kW then 240 kW forecast on feeder-a, at least 10 kW then 5 kW less.
    await append(request('req-1', {
      feeder: 'feeder-a', direction: 'reduce-import', isps: [{ minW: -20_000, maxW: -10_000 }, { minW: -15_000, maxW: -5_000 }],
      forecast: [{ feeder: 'feeder-a', W: [260_000, 240_000, 200_000] }],
    }));
    for (const [label, s] of [['alice', c.alice], ['bob', c.bob], ['agg', agg], ['dso', c.dso], ['operator', c.operator]] as const) await login(label, s);
  });
  after(() => close());

  test('the built-in program comes from the community in the log', async () => {
    const r = await call('GET', `${V}/programs`, { as: 'alice' });
    assert.equal(r.status, 200);
    const flex = r.json.find((p: any) => p.id === 'flex');
    assert.equal(flex.programName, 'openlec-flex');
    assert.equal(flex.objectType, 'PROGRAM');
    assert.equal(flex.country, 'FR');
    assert.equal(flex.timeZoneOffset, 'PT1H', 'standard time of Europe/Paris');
    assert.equal(flex.intervalPeriod.duration, 'PT30M');
    assert.deepEqual((await call('GET', `${V}/programs/flex`, { as: 'agg' })).json, flex);
    assert.equal((await call('GET', `${V}/programs`)).status, 401, 'a token is needed');
    const doc = (await call('GET', '/openapi.json')).json;
    assert.ok(doc.paths[`${V}/events/{eventID}`].get, 'the VTN\'s routes are in /openapi.json');
  });

  test('a flex.request of the log is an event with the feeder\'s import limit per interval, targeted at the feeder\'s assets', async () => {
    const r = await call('GET', `${V}/events`, { as: 'alice' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.length, 1);
    const e = r.json[0];
    assert.equal(e.id, 'req-1');
    assert.equal(e.objectType, 'EVENT');
    assert.equal(e.programID, 'flex');
    assert.deepEqual(e.intervalPeriod, { start: '2026-06-01T17:00:00Z', duration: 'PT30M' });
    assert.deepEqual(e.intervals, [
      { id: 0, intervalPeriod: { start: '2026-06-01T17:00:00Z', duration: 'PT30M' }, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [250] }] },
      { id: 1, intervalPeriod: { start: '2026-06-01T17:30:00Z', duration: 'PT30M' }, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [235] }] },
    ]);
    assert.deepEqual(e.targets, [{ type: 'FEEDER', values: ['feeder-a'] }, { type: 'RESOURCE_NAME', values: ['alice-battery', 'bob-ev'] }]);
    assert.deepEqual(e.payloadDescriptors.map((p: any) => [p.payloadType, p.units]), [['IMPORT_CAPACITY_LIMIT', 'KW']]);
    assert.deepEqual(e.reportDescriptors.map((d: any) => d.payloadType), ['USAGE', 'BASELINE']);
    assert.match(e.createdDateTime, /^2026-01-01T00:0\d:\d\d(\.\d+)?Z$/, 'the issuedAt of the entry');
    assert.deepEqual((await call('GET', `${V}/events/req-1`, { as: 'dso' })).json, e);
    // Filters.
    assert.equal((await call('GET', `${V}/events?targetType=FEEDER&targetValues=feeder-a`, { as: 'bob' })).json.length, 1);
    assert.equal((await call('GET', `${V}/events?targetType=RESOURCE_NAME&targetValues=other&targetValues=bob-ev`, { as: 'bob' })).json.length, 1);
    assert.equal((await call('GET', `${V}/events?targetType=FEEDER&targetValues=feeder-b`, { as: 'bob' })).json.length, 0);
    assert.equal((await call('GET', `${V}/events?programID=other`, { as: 'bob' })).json.length, 0);
    assert.equal((await call('GET', `${V}/events?skip=1`, { as: 'bob' })).json.length, 0);
    problem(await call('GET', `${V}/events?limit=51`, { as: 'bob' }), 400, /limit/);
    problem(await call('GET', `${V}/events/nope`, { as: 'bob' }), 404);
    problem(await call('GET', `${V}/events/bad.id`, { as: 'bob' }), 400, /eventID/);
    problem(await call('GET', `${V}/events/${'x'.repeat(129)}`, { as: 'bob' }), 400, /eventID/);
    // Read-only: the log is the source of truth.
    for (const [method, path] of [['POST', '/events'], ['PUT', '/events/req-1'], ['DELETE', '/events/req-1']] as const) {
      problem(await call(method, `${V}${path}`, { as: 'dso', ...(method === 'DELETE' ? {} : { body: e }) }), 405, /signed flex\.request transaction.*POST \/v1\/transactions/);
    }
    problem(await call('GET', `${V}/nothing-here`, { as: 'dso' }), 404);
  });

  test('programs: a BL creates, renames and deletes; names are unique; a member may not write; flex is the log\'s', async () => {
    const p = await call('POST', `${V}/programs`, { as: 'dso', body: { programName: 'evening-peak', timeZoneOffset: 'PT1H', intervalPeriod: { start: '2026-06-01T00:00:00Z', duration: 'P1W' } } });
    assert.equal(p.status, 201, JSON.stringify(p.json));
    assert.match(p.json.id, /^[a-zA-Z0-9_-]{1,128}$/);
    assert.equal(p.json.objectType, 'PROGRAM');
    problem(await call('POST', `${V}/programs`, { as: 'operator', body: { programName: 'evening-peak' } }), 409);
    problem(await call('POST', `${V}/programs`, { as: 'dso', body: { programName: 'openlec-flex' } }), 409);
    problem(await call('POST', `${V}/programs`, { as: 'alice', body: { programName: 'mine' } }), 403);
    problem(await call('POST', `${V}/programs`, { as: 'dso', body: { programName: 'x', timeZoneOffset: 'PT1X' } }), 400, /timeZoneOffset/);
    problem(await call('POST', `${V}/programs`, { as: 'dso', body: { programName: 'x', intervalPeriod: { start: '2026-06-01', duration: 'PT1H' } } }), 400, /start/);
    problem(await call('POST', `${V}/programs`, { as: 'dso', body: { programName: '' } }), 400, /programName/);
    problem(await call('PUT', `${V}/programs/flex`, { as: 'dso', body: { programName: 'renamed' } }), 403, /derived from the log/);
    problem(await call('DELETE', `${V}/programs/flex`, { as: 'operator' }), 403);
    const put = await call('PUT', `${V}/programs/${p.json.id}`, { as: 'dso', body: { ...p.json, programName: 'evening-peak-2' } });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    assert.equal(put.json.createdDateTime, p.json.createdDateTime);
    assert.equal((await call('GET', `${V}/programs`, { as: 'bob' })).json.length, 2);
    assert.equal((await call('DELETE', `${V}/programs/${p.json.id}`, { as: 'operator' })).status, 200);
    problem(await call('GET', `${V}/programs/${p.json.id}`, { as: 'bob' }), 404);
  });

  test('VENs register themselves and the assets they own or were delegated as resources', async () => {
    const a = await call('POST', `${V}/vens`, { as: 'alice', body: { venName: 'alice-home', resources: [{ resourceName: 'alice-battery' }] } });
    assert.equal(a.status, 201, JSON.stringify(a.json));
    assert.equal(a.json.objectType, 'VEN');
    assert.deepEqual(a.json.resources.map((r: any) => [r.resourceName, r.venID, r.objectType]), [['alice-battery', a.json.id, 'RESOURCE']]);
    // bob-ev is bob's, delegated to the aggregator: not alice's to name.
    problem(await call('POST', `${V}/vens/${a.json.id}/resources`, { as: 'alice', body: { resourceName: 'bob-ev' } }), 400, /body\.resourceName.*"bob-ev"/);
    assert.equal((await call('POST', `${V}/vens/${a.json.id}/resources`, { as: 'alice', body: { resourceName: 'bob-ev' } })).json.field, 'body.resourceName');
    problem(await call('POST', `${V}/vens`, { as: 'bob', body: { venName: 'alice-home' } }), 409);
    problem(await call('POST', `${V}/vens`, { as: 'dso', body: { venName: 'dso-ven' } }), 403);
    const g = await call('POST', `${V}/vens`, { as: 'agg', body: { venName: 'aggregator-1' } });
    assert.equal(g.status, 201);
    const r = await call('POST', `${V}/vens/${g.json.id}/resources`, { as: 'agg', body: { resourceName: 'bob-ev', attributes: [{ type: 'MAX_POWER_CONSUMPTION', values: [7.4] }] } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    problem(await call('POST', `${V}/vens/${g.json.id}/resources`, { as: 'agg', body: { resourceName: 'bob-ev' } }), 409);
    problem(await call('POST', `${V}/vens/${g.json.id}/resources`, { as: 'alice', body: { resourceName: 'alice-battery' } }), 403);
    // Each VEN sees its own; the BL sees all.
    assert.deepEqual((await call('GET', `${V}/vens`, { as: 'alice' })).json.map((v: any) => v.venName), ['alice-home']);
    assert.deepEqual((await call('GET', `${V}/vens`, { as: 'dso' })).json.map((v: any) => v.venName), ['alice-home', 'aggregator-1']);
    problem(await call('GET', `${V}/vens/${g.json.id}`, { as: 'alice' }), 403);
    assert.deepEqual((await call('GET', `${V}/vens/${g.json.id}/resources`, { as: 'agg' })).json.map((x: any) => x.resourceName), ['bob-ev']);
  });

  test('reports: USAGE and BASELINE per interval, validated against the program, the event and its targets', async () => {
    const report = {
      programID: 'flex', eventID: 'req-1', clientName: c.alice.actor, reportName: 'alice battery 2026-06-01',
      payloadDescriptors: [{ payloadType: 'USAGE', readingType: 'DIRECT_READ', units: 'KWH' }, { payloadType: 'BASELINE', readingType: 'ESTIMATED', units: 'KWH' }],
      resources: [{
        resourceName: 'alice-battery', intervalPeriod: { start: '2026-06-01T17:00:00Z', duration: 'PT30M' },
        intervals: [{ id: 0, payloads: [{ type: 'USAGE', values: [0.4] }, { type: 'BASELINE', values: [1.6] }] }, { id: 1, payloads: [{ type: 'USAGE', values: [0.5] }, { type: 'BASELINE', values: [1.5] }] }],
      }],
    };
    const r = await call('POST', `${V}/reports`, { as: 'alice', body: report });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal(r.json.objectType, 'REPORT');
    assert.deepEqual(r.json.resources, report.resources);
    assert.equal((await call('GET', `${V}/reports?eventID=req-1`, { as: 'alice' })).json.length, 1);
    assert.equal((await call('GET', `${V}/reports`, { as: 'bob' })).json.length, 0, 'a VEN reads its own reports only');
    assert.equal((await call('GET', `${V}/reports?clientName=${c.alice.actor}`, { as: 'dso' })).json.length, 1);
    problem(await call('GET', `${V}/reports/${r.json.id}`, { as: 'bob' }), 403);

    const bad = (patch: (r: any) => void) => {
      const copy = structuredClone(report) as any;
      patch(copy);
      return call('POST', `${V}/reports`, { as: 'alice', body: copy });
    };
    problem(await bad((x) => { x.eventID = 'req-404'; }), 404, /no event req-404/);
    problem(await bad((x) => { x.programID = 'nope'; }), 404, /no program nope/);
    problem(await bad((x) => { x.eventID = 'bad id'; }), 400, /eventID/);
    problem(await bad((x) => { x.resources[0].intervalPeriod.duration = 'PT30'; }), 400, /duration/);
    problem(await bad((x) => { x.resources[0].intervalPeriod.duration = '30M'; }), 400, /duration/);
    problem(await bad((x) => { x.resources[0].intervals[1].payloads[0].type = 'WATTS'; }), 400, /type/);
    problem(await bad((x) => { x.resources[0].intervals[1].id = 0; }), 400, /appears twice/);
    problem(await bad((x) => { x.resources[0].intervals[0].payloads[0].values = ['a lot']; }), 400, /numbers/);
    problem(await bad((x) => { delete x.resources[0].intervalPeriod; }), 400, /intervalPeriod/);
    problem(await bad((x) => { x.resources[0].resourceName = 'bob-ev'; }), 400, /bob-ev/);
    problem(await bad((x) => { x.clientName = c.bob.actor; }), 403, /clientName/);
    problem(await bad((x) => { x.payloadDescriptors[0].readingType = 'GUESS'; }), 400, /readingType/);
    problem(await call('POST', `${V}/reports`, { as: 'dso', body: report }), 403);
    assert.equal((await bad((x) => { x.resources[0].resourceName = 'AGGREGATED_REPORT'; })).status, 201);
  });

  test('notifications: a new flex.request reaches a webhook and the event stream; reports only reach those who may see them', async () => {
    problem(await call('POST', `${V}/subscriptions`, { as: 'agg', body: { clientName: agg.actor, programID: 'flex', objectOperations: [{ objects: ['EVENT'], operations: ['POST'], callbackUrl: 'ftp://example.org/x' }] } }), 400, /http or https/);
    problem(await call('POST', `${V}/subscriptions`, { as: 'agg', body: { clientName: agg.actor, programID: 'flex', objectOperations: [{ objects: ['EVENTS'], operations: ['POST'], callbackUrl: `${hookBase}/x` }] } }), 400, /objects/);
    problem(await call('POST', `${V}/subscriptions`, { as: 'agg', body: { clientName: agg.actor, programID: 'nope', objectOperations: [{ objects: ['EVENT'], operations: ['POST'], callbackUrl: `${hookBase}/x` }] } }), 404);
    const s = await call('POST', `${V}/subscriptions`, {
      as: 'agg',
      body: { clientName: agg.actor, programID: 'flex', objectOperations: [{ objects: ['EVENT', 'REPORT'], operations: ['POST'], callbackUrl: `${hookBase}/agg`, bearerToken: 'agg-secret' }] },
    });
    assert.equal(s.status, 201, JSON.stringify(s.json));
    const d = await call('POST', `${V}/subscriptions`, {
      as: 'dso', body: { clientName: c.dso.actor, programID: 'flex', objectOperations: [{ objects: ['REPORT', 'VEN'], operations: ['POST'], callbackUrl: `${hookBase}/dso` }] },
    });
    assert.equal(d.status, 201);
    assert.equal((await call('GET', `${V}/subscriptions/${s.json.id}`, { as: 'dso' })).json.objectOperations[0].bearerToken, '(hidden)', 'the callback token is its owner\'s');
    assert.equal((await call('GET', `${V}/subscriptions?objects=EVENT`, { as: 'agg' })).json.length, 1);
    // A dead webhook: logged, not fatal.
    const dead = await call('POST', `${V}/subscriptions`, {
      as: 'bob', body: { clientName: c.bob.actor, programID: 'flex', objectOperations: [{ objects: ['EVENT'], operations: ['POST'], callbackUrl: 'http://127.0.0.1:9/gone' }] },
    });
    assert.equal(dead.status, 201);

    // bob's VEN listens on the stream (behind NAT).
    const ctl = new AbortController();
    const res = await fetch(`${base}${V}/notifications?objects=EVENT`, { headers: { authorization: `Bearer ${tokens.get('bob')}` }, signal: ctl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    let streamed = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) streamed += decoder.decode(chunk as Uint8Array);
      } catch { /* aborted */ }
    })();
    await until('the stream to open', () => streamed.length > 0);

    // The DSO's second request: export congestion on the substation, no forecast → its export limit.
    await append(request('req-2', { feeder: 'substation-1', direction: 'reduce-export', isps: [{ minW: 10_000, maxW: 30_000 }] }));
    await until('the webhook', () => hooks.some((h) => h.path === '/agg' && h.body.object.id === 'req-2'));
    const h = hooks.find((x) => x.path === '/agg' && x.body.object.id === 'req-2')!;
    assert.equal(h.auth, 'Bearer agg-secret');
    assert.equal(h.body.objectType, 'EVENT');
    assert.equal(h.body.operation, 'POST');
    assert.deepEqual(h.body.object.intervals[0].payloads, [{ type: 'EXPORT_CAPACITY_LIMIT', values: [200] }]);
    assert.deepEqual(h.body.targets, [{ type: 'FEEDER', values: ['substation-1'] }, { type: 'RESOURCE_NAME', values: ['alice-battery', 'bob-ev'] }]);
    await until('the stream', () => streamed.includes('"req-2"'));
    const data = streamed.split('\n').find((l) => l.startsWith('data: ') && l.includes('"req-2"'))!;
    assert.deepEqual(JSON.parse(data.slice(6)), h.body, 'the same notification');
    await until('the failure log', () => logLines.some((l) => l.includes('openadr webhook failed') && l.includes('127.0.0.1:9')));

    // alice's report reaches the DSO's subscription, not the aggregator's: it is alice's.
    const before = hooks.length;
    const rep = await call('POST', `${V}/reports`, {
      as: 'alice', body: { programID: 'flex', eventID: 'req-2', clientName: c.alice.actor, resources: [{ resourceName: 'alice-battery', intervals: [{ id: 0, intervalPeriod: { start: '2026-06-01T17:00:00Z', duration: 'PT30M' }, payloads: [{ type: 'USAGE', values: [-1.2] }] }] }] },
    });
    assert.equal(rep.status, 201, JSON.stringify(rep.json));
    await until('the report notification', () => hooks.some((x) => x.path === '/dso' && x.body.object.id === rep.json.id));
    const v = await call('POST', `${V}/vens`, { as: 'bob', body: { venName: 'bob-home' } });
    await until('the VEN notification', () => hooks.some((x) => x.path === '/dso' && x.body.objectType === 'VEN' && x.body.object.id === v.json.id));
    assert.ok(!hooks.slice(before).some((x) => x.path === '/agg'), 'the aggregator is not told about alice\'s report');
    assert.ok(!streamed.includes(rep.json.id), 'the stream was asked for events only');
    ctl.abort();
    await reading;
    problem(await call('GET', `${V}/notifications?objects=NOPE`, { as: 'bob' }), 400);
  });

  test('durations follow the spec\'s pattern; off-log objects survive a restart', async () => {
    for (const ok of ['PT30M', 'PT1H', 'P1D', 'P1W', 'P1Y2M3DT4H5M6S', 'PT0.5S', '-PT5H']) assert.match(ok, DURATION_PATTERN, ok);
    for (const bad of ['P', 'PT', '30M', 'PT30', 'P1H', 'pt30m', 'PT1.S']) assert.doesNotMatch(bad, DURATION_PATTERN, bad);
    assert.deepEqual([0, 15, 30, 60, 90, 330, -300].map(durationOf), ['PT0S', 'PT15M', 'PT30M', 'PT1H', 'PT1H30M', 'PT5H30M', '-PT5H']);
    assert.ok(existsSync(`${c.path}.openadr.db`), 'stored beside the log');
    const store = OpenAdrStore.open(`${c.path}.openadr.db`);
    try {
      assert.deepEqual(store.list('ven').map((v) => v.name), ['alice-home', 'aggregator-1', 'bob-home']);
      assert.equal(store.list('report').length, 3);
    } finally {
      store.close();
    }
  });
});
