import { esc } from '../../src/charts/svg.ts';
import { api, login, type Session } from './api.ts';

/**
 * What every view shares: the page's view element, the community (cached), formatting of
 * energy, money and local times, tables and tiles, the period form and the login prompt.
 */
export { esc };
export interface Community {
  id: string;
  name: string;
  timeZone: string;
  intervalMinutes: number;
  currency: string;
  size: number;
  origin: string;
  verifierKey: string;
  lastCleared: string | null;
}

export const view = document.getElementById('view')!;
export const kwh = (wh: number) => (wh / 1000).toFixed(1);
export const money = (micro: number, currency: string) => `${(micro / 1e6).toFixed(2)} ${currency}`;
export const perKwh = (micro: number | null, currency: string) => (micro === null ? '–' : `${(micro / 1e6).toFixed(4)} ${currency}/kWh`);
export const pct = (ratio: string) => (ratio === '' ? '–' : `${(Number(ratio) * 100).toFixed(1)} %`);
export const short = (key: string) => `${key.slice(0, 8)}…`;
export const table = (head: string[], rows: string[][], id = '') => `<div class="scroll" tabindex="0" role="region" aria-label="${esc(`table of ${head.slice(0, 3).join(', ')}`)}"><table${id ? ` id="${id}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>`
  + `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table></div>`;
export const tile = (label: string, value: string, id: string) => `<div class="tile"><div class="label">${esc(label)}</div><div class="value" id="${id}">${esc(value)}</div></div>`;

let communityCache: Community | undefined;
export async function community(fresh = false): Promise<Community> {
  if (!communityCache || fresh) communityCache = await api<Community>('/v1/community');
  return communityCache;
}

/** localDate of an instant in the community's time zone (YYYY-MM-DD). */
export const localDate = (iso: string, timeZone: string) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));
export const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
export const localTime = (iso: string, timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));

/** period: the local days [from, to] chosen in the URL, by default the week up to the latest cleared interval. */
export function period(c: Community, q: URLSearchParams, days = 7): { from: string; to: string } {
  const last = c.lastCleared ? localDate(c.lastCleared, c.timeZone) : localDate(new Date().toISOString(), c.timeZone);
  const date = (k: string) => (/^\d{4}-\d{2}-\d{2}$/.test(q.get(k) ?? '') && !Number.isNaN(Date.parse(`${q.get(k)}T00:00:00Z`)) ? q.get(k)! : undefined);
  const to = date('to') ?? last;
  return { from: date('from') ?? addDays(to, -(days - 1)), to };
}

/** instants: a UTC window that surely covers the local days [from, to] in any time zone (a day either side), for instant-keyed queries. */
export const instants = (p: { from: string; to: string }) => ({ from: `${addDays(p.from, -1)}T00:00:00Z`, to: `${addDays(p.to, 2)}T00:00:00Z` });

export const periodForm = (route: string, p: { from: string; to: string }) => `<form class="period" data-route="${route}">
  <label>From <input type="date" name="from" value="${esc(p.from)}"></label>
  <label>To <input type="date" name="to" value="${esc(p.to)}"></label>
  <button type="submit">Show</button></form>`;

export function bindPeriod(): void {
  const f = view.querySelector<HTMLFormElement>('form.period');
  f?.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = new FormData(f);
    location.hash = `#/${f.dataset.route}?from=${String(d.get('from'))}&to=${String(d.get('to'))}`;
  });
}

const loggedIn: (() => void)[] = [];
/** onLogin: what to do once a login succeeds (the router redraws the header and the view). */
export function onLogin(f: () => void): void {
  loggedIn.push(f);
}

export function loginPrompt(why: string): void {
  view.innerHTML = `<h1>Log in</h1><p>${esc(why)}</p>
  <form id="login-form">
    <label>Your key (the key file's content, or the secret key)<br><textarea name="secret" rows="4" spellcheck="false" autocomplete="off"></textarea></label>
    <p><label>or a key file <input type="file" name="file" accept=".key,.json,application/json"></label></p>
    <button>Log in</button></form>
  <p id="login-error" class="error" role="alert"></p>
  <p class="note">The key stays in this page: it signs a one-time challenge and only the signature is sent. <code>npm start</code> prints demo keys for a member, the operator, the DSO and an auditor (files in <code>data/live/keys</code>).</p>`;
  const f = document.getElementById('login-form') as HTMLFormElement;
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    const file = (f.elements.namedItem('file') as HTMLInputElement).files?.[0];
    const text = file ? file.text() : Promise.resolve(String(new FormData(f).get('secret')));
    text.then(async (t) => login(t, (await community()).origin)).then(() => { for (const f of loggedIn) f(); })
      .catch((err: Error) => { document.getElementById('login-error')!.textContent = err.message; });
  });
}

/** isStaff: the session holds a role other than member. */
export const isStaff = (s: Session | undefined) => s?.roles.some((r) => r !== 'member') ?? false;

/** communityCached: the community as last fetched, if it was. */
export const communityCached = () => communityCache;
