import { parseCheckpoint } from '../../../src/ledger/index.ts';
import { session } from '../api.ts';
import { checkConsistency, pinnedKey } from '../verify.ts';
import { api } from '../api.ts';
import { community, esc, short, table, view } from '../ui.ts';
import './views.css';

/** Transaction types in words, for the entries table (the type itself stays beside it). */
export const TX_NAMES: Record<string, string> = {
  'community.create': 'Community created', 'participant.register': 'Participant registered', 'feeder.define': 'Feeder defined', 'feeder.limit': 'Feeder limit',
  'meter.register': 'Meter registered', 'meter.readings': 'Meter readings', 'meter.correct': 'Meter readings corrected',
  'market.configure': 'Market rules', 'tariff.set': 'Network tariff', 'market.clear': 'Interval cleared',
  'order.place': 'Order placed', 'order.cancel': 'Order cancelled', 'order.standing': 'Standing order set', 'standing.cancel': 'Standing order cancelled',
  'allocation.run': 'Monthly allocation', 'allocation.shares': 'Allocation shares of a day',
  'asset.register': 'Flexible asset registered', 'flex.configure': 'Flexibility rules', 'flex.request': 'Flexibility request', 'flex.offer': 'Flexibility offer', 'flex.order': 'Flexibility order', 'flex.settle': 'Flexibility settled',
  'device.register': 'Production device registered', 'certificates.configure': 'Certificate rules', 'certificates.issue': 'Certificates issued', 'certificates.settle': 'Certificates settled', 'certificates.expire': 'Certificates expired',
  'certificate.transfer': 'Certificate transferred', 'certificate.cancel': 'Certificate cancelled', 'certificate.autoclaim': 'Certificate auto-claim',
  'charging.party': 'Charging party', 'charging.location': 'Charging location', 'charging.tariff': 'Charging tariff', 'charging.cdr': 'Charging session (CDR)', 'charging.driver': 'Charging token linked', 'charging.origin': 'Charging origin', 'charging.settle': 'Charging settled',
};

/** dateTime: an instant in the community's zone, with seconds and the zone's abbreviation ("30 Nov 2026, 23:30:00 CET"). */
const dateTime = (iso: string, timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short' }).format(new Date(iso));

const roleTags = (roles: readonly string[] | undefined) => (roles?.length ? roles.map((r) => `<span class="role">${esc(r)}</span>`).join('') : '<span class="role none">unregistered</span>');

/** Ledger explorer: checkpoints and their consistency for everyone, with who signs; entries (roles, local times, names) for the operator, DSO and auditors. */
export async function ledgerView(q: URLSearchParams): Promise<void> {
  const c = await community(true);
  const pin = pinnedKey(c.origin, c.verifierKey);
  const s = session();
  const staff = s?.roles.some((r) => r !== 'member') ?? false;
  const [cps, orgs, people] = await Promise.all([
    api<{ size: number; note: string; cosigners?: number }[]>('/v1/checkpoints'),
    api<{ key: string; roles: string[] }[]>('/v1/dashboard/keys'),
    staff ? api<{ key: string; roles: string[] }[]>('/v1/participants') : Promise.resolve([]),
  ]);
  const rolesOf = new Map<string, string[]>([...orgs, ...people].map((p) => [p.key, p.roles]));
  const from = Math.max(0, Number(q.get('from') ?? Math.max(0, c.size - 50)));
  let entries = '<p class="note">Entries are shown to the operator, the DSO and auditors: log in with such a key. Checkpoints and consistency proofs are public.</p>';
  if (staff) {
    const log = await api<{ size: number; entries: { entry: number; type: string; actor: string; nonce: number; issuedAt: string; body: unknown }[] }>(`/v1/log?from=${from}&limit=50`);
    entries = `<p><a href="#/ledger?from=${Math.max(0, from - 50)}">← older</a> · entries ${from}–${from + log.entries.length - 1} of ${log.size} · <a href="#/ledger?from=${Math.min(Math.max(0, log.size - 50), from + 50)}">newer →</a></p>`
      + table(['entry', 'what', 'signed by', 'role', 'nonce', `issued at (${c.timeZone})`, 'body'], log.entries.map((e) => [String(e.entry),
        `${esc(TX_NAMES[e.type] ?? e.type)}<br><code class="tx-type">${esc(e.type)}</code>`, `<code title="${esc(e.actor)}">${esc(short(e.actor))}</code>`, roleTags(rolesOf.get(e.actor)), String(e.nonce),
        `<time datetime="${esc(e.issuedAt)}">${esc(dateTime(e.issuedAt, c.timeZone))}</time>`, `<details><summary>body</summary><pre>${esc(JSON.stringify(e.body, null, 1))}</pre></details>`]), 'entries');
  }
  const rootOf = (note: string) => {
    const text = note.slice(0, note.indexOf('\n\n') + 1);
    return parseCheckpoint(text).root;
  };
  const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
  const recent = cps.slice(-20).reverse();
  view.innerHTML = `<h1>Ledger</h1>
  <p class="sub">Origin <code>${esc(c.origin)}</code>, ${c.size.toLocaleString('en')} entries, ${cps.length} signed checkpoints. Checkpoint key <code id="verifier-key">${esc(c.verifierKey)}</code>.</p>
  <section><h2>Who signs</h2>
  <p>Every entry is signed by the key of whoever made it. The community’s organisations:</p>
  ${table(['role', 'key'], orgs.map((o) => [roleTags(o.roles), `<code>${esc(o.key)}</code>`]), 'org-keys')}
  <p class="note">Members sign with keys of their own too; they stay pseudonymous here.</p></section>
  <section><h2>Consistency between two checkpoints</h2>
  <form id="consistency-form">
    <label>Older <select name="older">${recent.map((x, i) => `<option value="${x.size}"${i === Math.min(recent.length - 1, 5) ? ' selected' : ''}>${x.size}</option>`).join('')}</select></label>
    <label>Newer <select name="newer">${recent.map((x) => `<option value="${x.size}">${x.size}</option>`).join('')}</select></label>
    <button>Check in this browser</button></form>
  <p id="consistency-result" role="status"></p></section>
  <section><h2>Checkpoints</h2>${table(['tree size', 'root hash', 'witness cosignatures'], recent.map((x) => [String(x.size), `<code>${esc(b64(rootOf(x.note)).slice(0, 24))}…</code>`, String(x.cosigners ?? 0)]), 'checkpoints')}
  <p class="note">Witnesses (other organisations running <code>openlec witness</code>) cosign a checkpoint only after checking it extends the last one they cosigned; a checkpoint with a quorum of cosignatures is final (<code>/v1/checkpoints/final</code>).</p></section>
  <section><h2>Entries</h2>${entries}</section>`;
  const f = document.getElementById('consistency-form') as HTMLFormElement;
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = new FormData(f);
    const [older, newer] = [Number(d.get('older')), Number(d.get('newer'))].sort((x, y) => x - y).map((size) => cps.find((x) => x.size === size)!);
    const out = document.getElementById('consistency-result')!;
    checkConsistency(older!, newer!, pin.key)
      .then((r) => { out.className = 'ok'; out.textContent = `Consistent: the log of ${r.newer.size} entries extends the log of ${r.older.size} entries without changing it.`; })
      .catch((err: Error) => { out.className = 'fail'; out.textContent = `Inconsistent: ${err.message}`; });
  });
}
