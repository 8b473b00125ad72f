import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { seededKey } from '../../test/support/community.ts';
import {
  canonicalJson, decodeEntry, decodeTransaction, encodeEntry, MAX_ENTRY_BYTES, encodeKey, formatVerifierKey, fromBase64, fromHex, keyPairFromSeed, openCheckpoint, openNote, parseCheckpoint, parseVerifierKey,
  sign, signCheckpoint, signNote, signTransaction, toBase64, toBase64Url, toHex, utf8, verifySignature, EMPTY_ROOT, fromBase64Url,
} from './index.ts';

describe('keys and signatures', () => {
  test('RFC 8032 section 7.1 test vectors', () => {
    const vectors = [
      ['9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '',
        'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'],
      ['4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', '72',
        '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'],
    ] as const;
    for (const [seed, pub, msg, sig] of vectors) {
      const key = keyPairFromSeed(fromHex(seed)!);
      assert.equal(toHex(key.publicKey), pub);
      assert.equal(toHex(sign(key.secretKey, fromHex(msg)!)), sig);
      assert.equal(verifySignature(key.publicKey, fromHex(msg)!, fromHex(sig)!), true);
      assert.equal(verifySignature(key.publicKey, utf8('other'), fromHex(sig)!), false);
    }
  });

  test('base64 and base64url round-trip and reject non-canonical text', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      assert.deepEqual(fromBase64(toBase64(b)), b);
      assert.deepEqual(fromBase64Url(toBase64Url(b)), b);
      assert.equal(toBase64(b), Buffer.from(b).toString('base64'));
    }));
    assert.equal(fromBase64('AB=='), undefined); // trailing bits set
    assert.equal(fromBase64('A==='), undefined);
  });
});

describe('transactions', () => {
  const key = seededKey('alice');
  const envelope = { v: 1 as const, type: 'feeder.define', community: 'openlec.test/x', actor: encodeKey(key.publicKey), nonce: 1, issuedAt: '2026-01-01T00:00:00Z', body: { id: 'f', b: 'é', a: 1 } };

  test('entries are RFC 8785 canonical JSON with sorted keys and round-trip', () => {
    const tx = signTransaction(envelope, key.secretKey);
    const bytes = encodeEntry(tx);
    const text = new TextDecoder().decode(bytes);
    assert.ok(text.startsWith('{"actor":'));
    assert.ok(text.includes('"body":{"a":1,"b":"é","id":"f"}'));
    const d = decodeEntry(bytes);
    assert.deepEqual(d.tx, tx);
    assert.equal(verifySignature(d.publicKey, d.message, d.signature), true);
    assert.equal(canonicalJson({ b: [1, 2.5, 1e21], a: 'x' }), '{"a":"x","b":[1,2.5,1e+21]}');
  });

  test('malformed envelopes name the field', () => {
    const tx = signTransaction(envelope, key.secretKey);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...tx, nonce: 0 }, 'nonce'], [{ ...tx, nonce: 1.5 }, 'nonce'], [{ ...tx, actor: 'abc' }, 'actor'], [{ ...tx, issuedAt: 'yesterday' }, 'issuedAt'],
      [{ ...tx, v: 2 }, 'v'], [{ ...tx, extra: 1 }, 'extra'], [{ ...tx, sig: 'xx' }, 'sig'], [{ ...tx, body: [] }, 'body'], [{ ...tx, type: 'Bad Type' }, 'type'],
    ];
    for (const [o, field] of cases) assert.throws(() => decodeEntry(utf8(canonicalJson(o))), { code: 'E_TX_FORMAT', field });
    assert.throws(() => decodeEntry(utf8('{"a":')), { code: 'E_TX_FORMAT', field: 'bytes' });
    // Above the entry size, as bytes or as an object: what verify would refuse is never appended.
    const big = signTransaction({ ...envelope, body: { pad: 'x'.repeat(MAX_ENTRY_BYTES) } }, key.secretKey);
    assert.throws(() => decodeTransaction(big), { code: 'E_TX_FORMAT', field: 'size' });
    assert.throws(() => decodeEntry(utf8(canonicalJson(big))), { code: 'E_TX_FORMAT', field: 'size' });
  });
});

describe('signed notes and checkpoints (C2SP)', () => {
  const key = keyPairFromSeed(new Uint8Array(32).fill(7));
  const origin = 'example.com/log';
  const vkey = formatVerifierKey(origin, key.publicKey);

  test('checkpoint text and signature line are byte-exact C2SP', () => {
    const note = signCheckpoint({ origin, size: 2, root: EMPTY_ROOT, extensions: [] }, { name: origin, ...key });
    const lines = note.split('\n');
    assert.deepEqual(lines.slice(0, 4), [origin, '2', '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', '']);
    assert.match(lines[4]!, /^\u2014 example\.com\/log [A-Za-z0-9+/]{91}=$/);
    const raw = fromBase64(lines[4]!.split(' ')[2]!)!;
    assert.equal(raw.length, 68);
    assert.deepEqual(raw.slice(0, 4), parseVerifierKey(vkey).keyId);
    assert.equal(verifySignature(key.publicKey, utf8(`${origin}\n2\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n`), raw.slice(4)), true);
    assert.deepEqual(openCheckpoint(note, parseVerifierKey(vkey), origin).size, 2);
  });

  test('tampered notes, wrong keys and wrong origins are refused', () => {
    const note = signCheckpoint({ origin, size: 5, root: EMPTY_ROOT, extensions: ['ext line'] }, { name: origin, ...key });
    assert.throws(() => openCheckpoint(note.replace('\n5\n', '\n6\n'), parseVerifierKey(vkey), origin), { code: 'E_NOTE_SIGNATURE' });
    const other = keyPairFromSeed(new Uint8Array(32).fill(9));
    assert.throws(() => openCheckpoint(note, parseVerifierKey(formatVerifierKey(origin, other.publicKey)), origin), { code: 'E_NOTE_UNVERIFIED' });
    assert.throws(() => openCheckpoint(note, parseVerifierKey(vkey), 'example.com/other'), { code: 'E_CHECKPOINT_ORIGIN' });
    assert.deepEqual(parseCheckpoint(openNote(note, [parseVerifierKey(vkey)]).text).extensions, ['ext line']);
    assert.throws(() => parseCheckpoint('o\n05\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n'), { field: 'size' });
    assert.throws(() => parseVerifierKey(vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+')), { code: 'E_NOTE_VERIFIER_KEY' });
    assert.throws(() => signNote('no newline', [{ name: origin, ...key }]), { code: 'E_NOTE_FORMAT' });
  });

  test('a note holds at most 100 signature lines, and only the first signature by each known key is verified (as Go\'s sumdb/note)', () => {
    const note = signNote('hello\n', [{ name: origin, ...key }]);
    const line = note.slice('hello\n\n'.length);
    const other = signNote('hello\n', [{ name: 'example.com/other', ...keyPairFromSeed(new Uint8Array(32).fill(9)) }]).slice('hello\n\n'.length);
    let calls = 0;
    const counting: typeof verifySignature = (pub, msg, sig) => (calls++, verifySignature(pub, msg, sig));
    const known = [parseVerifierKey(vkey)];

    // 100 lines, 99 of them repeats of the known key's: one verification.
    assert.deepEqual(openNote(`hello\n\n${line.repeat(99)}${other}`, known, counting).signedBy.map((k) => k.name), [origin]);
    assert.equal(calls, 1);
    // 101 lines are refused before any is verified, whoever signed them.
    calls = 0;
    for (const block of [line.repeat(101), other.repeat(101), `${line}${other.repeat(100)}`]) {
      assert.throws(() => openNote(`hello\n\n${block}`, known, counting), { code: 'E_NOTE_FORMAT', field: 'note', message: 'signed note: 101 signature lines, more than the 100 allowed' });
    }
    assert.equal(calls, 0);
    // A later line by a key already verified is not looked at, as in Go.
    const forged = line.replace(/[A-Za-z0-9+/]{4}=\n$/, 'AAAA=\n');
    assert.notEqual(forged, line);
    assert.throws(() => openNote(`hello\n\n${forged}${line}`, known), { code: 'E_NOTE_SIGNATURE' });
    assert.deepEqual(openNote(`hello\n\n${line}${forged}`, known).signedBy.map((k) => k.name), [origin]);
  });
});
