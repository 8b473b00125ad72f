// The ceiling of `npm run bench -- server` on this machine: the same load generator against a
// fastify server whose one route parses the signed order's JSON body, checks its Ed25519
// signature on the calling thread (as the real server's workers do) and answers 201 with an
// entry number, with no rules, no log and no disk. What the real server reaches is compared
// with this: the gap is the platform's work, the rest is HTTP and the signature.
// Prints its URL; on SIGTERM prints its CPU time as JSON and exits (serveUntilTerm).
import Fastify from 'fastify';
import { decodeTransaction } from '../src/ledger/index.ts';
import { nodeVerifySignature } from '../src/node/signatures.ts';
import { serveUntilTerm } from './support.ts';

const verify = process.argv[2] === 'verify';
const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
let entry = 0;
app.post('/v1/transactions', async (req, reply) => {
  if (verify) {
    const d = decodeTransaction(req.body);
    if (!nodeVerifySignature(d.publicKey, d.message, d.signature)) return reply.code(401).send({ code: 'E_TX_SIGNATURE' });
  }
  return reply.code(201).send({ entry: entry++ });
});
await serveUntilTerm(app, async () => entry);
