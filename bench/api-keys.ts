import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { makeApiKey } from '../src/access/api-keys.ts';
import { verifyLog } from '../src/audit/verify.ts';
import { Signer, signRequest } from '../src/client.ts';
import { nodeSign, nodeVerifySignature, WorkerSignatureChecker } from '../src/node/signatures.ts';
import { buildApp } from '../src/server/app.ts';
import { Auth } from '../src/server/auth.ts';
import { PersonalVault } from '../src/server/vault.ts';
import { SqliteLedger } from '../src/store/sqlite-ledger.ts';
import { formatInstant } from '../src/units/index.ts';
import { labelKey, printTable, round, tempPath, timed } from './support.ts';

/**
 * API keys (src/access/api-keys.ts) against the other ways a request is authenticated:
 * (a) the check alone (Auth.session / signedSession) for a login token (HMAC-SHA256), an
 * API key (SHA-256 of the secret, one row of api_keys) and an RFC 9421 signature
 * (Ed25519); (b) the same through the whole server (GET /v1/me by Fastify's inject);
 * (c) what the keys cost the log: KEYS owners each issuing a key and rotating it, appended
 * and verified, signatures on two worker threads.
 *
 * Size: API_KEYS_BENCH_N (or --n=N) checks per scheme, 20,000 by default; --keys=N owners, 2,000.
 */
const arg = (name: string, env: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? process.env[env] ?? dflt);

export async function run(): Promise<void> {
  const n = arg('n', 'API_KEYS_BENCH_N', 20_000);
  const owners = arg('keys', 'API_KEYS_BENCH_KEYS', 2_000);
  const T = Date.parse('2026-03-01T08:00:00Z');
  const iso = formatInstant;
  const path = tempPath('api-keys.db');
  const checker = new WorkerSignatureChecker(2);
  const ledger = SqliteLedger.create(path, { signatures: checker });
  const operator = new Signer(labelKey('operator'), 'openlec.bench/keys', 0, () => iso(T), nodeSign);
  const members = Array.from({ length: owners }, (_, i) => new Signer(labelKey(`member ${i}`), 'openlec.bench/keys', 0, () => iso(T), nodeSign));
  const first = await ledger.submitMany([
    operator.sign('community.create', { name: 'Keys', timeZone: 'Europe/Paris', intervalMinutes: 30, currency: 'EUR', operator: operator.actor }),
    ...members.map((m) => operator.sign('participant.register', { key: m.actor, roles: ['member'] })),
  ]);
  for (const r of first) if (!r.ok) throw r.error;

  // (c) Issue one key per owner, then rotate each: signed, appended, verified.
  const keys = members.map(() => makeApiKey('openlec.bench/keys', randomBytes(8), randomBytes(32)));
  const next = members.map(() => makeApiKey('openlec.bench/keys', randomBytes(8), randomBytes(32)));
  const before = ledger.size;
  const issue = await timed(async () => {
    for (const r of await ledger.submitMany(members.map((m, i) => m.sign('apikey.issue', { id: keys[i]!.id, digest: keys[i]!.digest, roles: ['member'], expiresAt: iso(T + 365 * 86_400_000) })))) if (!r.ok) throw r.error;
  });
  const rotate = await timed(async () => {
    for (const r of await ledger.submitMany(members.map((m, i) => m.sign('apikey.rotate', { id: keys[i]!.id, next: { id: next[i]!.id, digest: next[i]!.digest, roles: ['member'], expiresAt: iso(T + 365 * 86_400_000) }, overlapSeconds: 3600 })))) if (!r.ok) throw r.error;
  });
  let keyBytes = 0;
  for (const e of await ledger.readEntries(before, ledger.size)) keyBytes += e.bytes.length;
  // Signatures on two worker threads, as the simulator and `openlec verify` check them.
  const verify = await timed(() => verifyLog(ledger, ledger.registry, { checkSignatures: (items) => checker.check(items) }));
  if (!verify.value.ok) throw new Error(`verify: ${JSON.stringify(verify.value.problems)}`);

  // (a) The checks alone.
  const auth = new Auth(randomBytes(32), ledger.origin(), () => T + 60_000, nodeVerifySignature);
  const signer = members[0]!.key;
  const tokenOf = async () => {
    const ch = auth.challenge();
    const { token } = auth.login(ledger.state, members[0]!.actor, ch.challenge, Buffer.from(nodeSign(signer.secretKey, new TextEncoder().encode(ch.message))).toString('base64url'));
    return token;
  };
  const token = `Bearer ${await tokenOf()}`;
  const apiKey = `Bearer ${next[0]!.token}`;
  const url = 'http://localhost/v1/me';
  // The signatures' age is judged at the wall clock (http-message-signatures).
  const signed = await signRequest(signer, 'GET', url, Math.floor(Date.now() / 1000), nodeSign);
  const req = { method: 'GET', url: '/v1/me', headers: { host: 'localhost', ...signed } };
  const loop = async (f: () => unknown) => (await timed(async () => {
    for (let i = 0; i < n; i++) await f();
  })).seconds;
  const tokenS = await loop(() => auth.session(token, ledger.state));
  const keyS = await loop(() => auth.session(apiKey, ledger.state));
  const sigS = await loop(() => auth.signedSession(ledger.state, req, false));

  // (b) Through the server.
  const vault = PersonalVault.open(join(path, '..', 'personal.db'), randomBytes(32));
  const { app } = await buildApp({ ledger, vault, tokenSecret: randomBytes(32), now: () => T + 60_000, rateLimitPerMinute: 1e9 });
  const appToken = `Bearer ${(await app.inject({ method: 'POST', url: '/v1/auth/challenge' }).then(async (res) => {
    const ch = res.json() as { challenge: string; message: string };
    const sig = Buffer.from(nodeSign(signer.secretKey, new TextEncoder().encode(ch.message))).toString('base64url');
    return (await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { key: members[0]!.actor, challenge: ch.challenge, signature: sig } })).json() as { token: string };
  })).token}`;
  const inject = (headers: Record<string, string>) => loop(async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/me', headers });
    if (res.statusCode !== 200) throw new Error(`GET /v1/me: ${res.statusCode} ${res.body}`);
  });
  const httpN = n;
  const size = ledger.size;
  const tokenHttp = await inject({ authorization: appToken });
  const keyHttp = await inject({ authorization: apiKey });
  const sigHttp = await inject(signed);
  await app.close();
  vault.close();
  await ledger.close();
  await checker.close();

  const per = (s: number, count: number) => round(count / s);
  const us = (s: number, count: number) => round((s / count) * 1e6, 1);
  printTable(`Authenticating a request, ${n.toLocaleString('en-US')} times each (one core)`, [
    ['login token (HMAC-SHA256)', per(tokenS, n), us(tokenS, n), per(tokenHttp, httpN), us(tokenHttp, httpN)],
    ['API key (SHA-256, one row)', per(keyS, n), us(keyS, n), per(keyHttp, httpN), us(keyHttp, httpN)],
    ['RFC 9421 signature (Ed25519)', per(sigS, n), us(sigS, n), per(sigHttp, httpN), us(sigHttp, httpN)],
  ], ['scheme', 'checks/s', 'µs each', 'GET /v1/me/s', 'µs each']);
  printTable(`API keys in the log: ${owners.toLocaleString('en-US')} owners, one key each, then rotated`, [
    ['apikey.issue', owners, per(issue.seconds, owners), round(keyBytes / (2 * owners))],
    ['apikey.rotate', owners, per(rotate.seconds, owners), round(keyBytes / (2 * owners))],
    ['verify the whole log', size, per(verify.seconds, size), ''],
  ], ['step', 'transactions', 'per second', 'bytes/entry (mean)']);
  process.stdout.write(`${JSON.stringify({
    bench: 'api-keys', n, owners,
    tokenChecksPerSecond: per(tokenS, n), apiKeyChecksPerSecond: per(keyS, n), signatureChecksPerSecond: per(sigS, n),
    tokenRequestsPerSecond: per(tokenHttp, httpN), apiKeyRequestsPerSecond: per(keyHttp, httpN), signedRequestsPerSecond: per(sigHttp, httpN),
    issuePerSecond: per(issue.seconds, owners), rotatePerSecond: per(rotate.seconds, owners), keyEntryBytesMean: round(keyBytes / (2 * owners)), verifySeconds: round(verify.seconds, 3),
  })}\n`);
}
