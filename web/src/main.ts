import './locale-guard.ts';
import { ApiError, apiUrl, logout, session } from './api.ts';
import { certificatesView, originView, type Ui } from './certificates.ts';
import { flexEarningsView, flexView } from './flex.ts';
import { chargingMineView, chargingView } from './charging.ts';
import './style.css';
import { community, esc, kwh, localTime, loginPrompt, onLogin, short, table, tile, view, communityCached } from './ui.ts';
import { allocationView } from './views/allocation.ts';
import { communityView } from './views/community.ts';
import { ledgerView } from './views/ledger.ts';
import { marketView } from './views/market.ts';
import { meView } from './views/home.ts';
import { ordersView } from './actions/member.ts';
import { operateView } from './actions/operator.ts';
import { networkView } from './actions/dso.ts';
import { apiKeysView } from './api-keys.ts';
import { picker } from './picker.ts';

/**
 * The dashboard: one page, its views chosen by the URL's hash (#/, #/market,
 * #/allocation, #/me, #/origin, #/certificates, #/flex, #/flex-earnings, #/charging,
 * #/charging-mine, #/ledger, #/api-keys), each a module of views/ (or of the domain's file) rendered
 * from the API. Proofs are checked with the CLI's verification code.
 */
function whoAmI(): void {
  const s = session();
  const who = document.getElementById('who')!;
  who.innerHTML = s ? `<span title="${esc(s.key)}">${esc(s.roles.join(', '))} <code>${esc(short(s.key))}</code></span> <button class="link" id="logout">log out</button>` : '<a href="#/me">log in</a>';
  document.getElementById('logout')?.addEventListener('click', () => { logout(); whoAmI(); void render(); });
  drawNav();
}

const ui: Ui = { view, session, community, loginPrompt, table, tile };
const VIEWS: Record<string, (q: URLSearchParams) => Promise<void>> = {
  '': communityView, market: marketView, allocation: allocationView, me: meView, origin: (q) => originView(ui, q), certificates: () => certificatesView(ui), flex: (q) => flexView(ui, q), 'flex-earnings': (q) => flexEarningsView(ui, q), charging: (q) => chargingView(ui, q), 'charging-mine': (q) => chargingMineView(ui, q), ledger: ledgerView, orders: ordersView, operate: operateView, network: networkView, 'api-keys': apiKeysView,
};
/**
 * The navigation, by who is logged in: the community's public views for everyone, a
 * member's own views ("My ..."), and the operator's and the DSO's desks. A link is only
 * a shortcut: every route checks its own access on the server.
 */
const NAV: { href: string; label: string; who: (roles: readonly string[]) => boolean }[] = [
  { href: '#/me', label: 'My home', who: (r) => r.length === 0 || r.includes('member') },
  { href: '#/orders', label: 'My orders', who: (r) => r.includes('member') },
  { href: '#/origin', label: 'My origin', who: (r) => r.includes('member') },
  { href: '#/charging-mine', label: 'My charging', who: (r) => r.includes('member') },
  { href: '#/flex-earnings', label: 'My flexibility', who: (r) => r.includes('member') || r.includes('aggregator') },
  { href: '#/', label: 'Community', who: () => true },
  { href: '#/market', label: 'Market', who: () => true },
  { href: '#/allocation', label: 'Allocation', who: (r) => r.length > 0 },
  { href: '#/certificates', label: 'Certificates', who: () => true },
  { href: '#/flex', label: 'Flexibility', who: () => true },
  { href: '#/charging', label: 'Charging', who: () => true },
  { href: '#/operate', label: 'Operate', who: (r) => r.includes('operator') || r.includes('dso') },
  { href: '#/network', label: 'Network', who: (r) => r.includes('dso') || r.includes('operator') },
  { href: '#/api-keys', label: 'API keys', who: (r) => r.length > 0 },
  { href: '#/ledger', label: 'Ledger', who: () => true },
];

function drawNav(): void {
  const roles = session()?.roles ?? [];
  document.querySelector('nav')!.innerHTML = NAV.filter((n) => n.who(roles)).map((n) => `<a href="${n.href}">${esc(n.label)}</a>`).join('');
}

let current = '';

/**
 * safeQuery: the URL's parameters as the views read them. Anyone can send a link, so a
 * value is kept only if it is made of the characters of dates, instants, months, ids,
 * keys and numbers (no quote, bracket, space or markup); any other is dropped and the view
 * uses its default.
 */
export function safeQuery(query: string): URLSearchParams {
  const out = new URLSearchParams();
  for (const [k, v] of new URLSearchParams(query)) if (/^[A-Za-z0-9_-]{1,40}$/.test(k) && /^[A-Za-z0-9:._+-]{0,200}$/.test(v)) out.set(k, v);
  return out;
}

async function render(): Promise<void> {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?') as [string, string | undefined];
  current = path in VIEWS ? path : '';
  // A member's dashboard opens on their home: the bill, the saving, where the energy came from.
  const s = session();
  if (current === '' && location.hash === '' && s && s.roles.includes('member') && !s.roles.some((r) => r !== 'member')) current = 'me';
  drawNav();
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    const on = a.getAttribute('href') === `#/${current}`;
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page');
  }
  document.body.dataset.view = current || 'community';
  delete document.body.dataset.ready;
  try {
    await VIEWS[current]!(safeQuery(query ?? ''));
    // data-ready tells the browser tests (and anyone scripting the page) that the view is drawn.
    document.body.dataset.ready = document.getElementById('login-form') ? 'login' : current || 'community';
  } catch (e) {
    const err = e as ApiError;
    if (err.status === 401) {
      logout();
      whoAmI();
      return loginPrompt('Your session ended: log in again.');
    }
    view.innerHTML = `<h1>Something went wrong</h1><p class="error" id="error">${esc(err.code ? `${err.code}: ` : '')}${esc(err.message)}</p>`;
  }
}

/** Live: the header shows each interval as it clears; the community and market views redraw (at most every 3 s) when they show the latest data. */
function live(): void {
  const es = new EventSource(apiUrl('/v1/events'));
  let pending: ReturnType<typeof setTimeout> | undefined;
  es.addEventListener('interval-cleared', (m) => {
    const d = JSON.parse((m as MessageEvent<string>).data) as { interval: string; volumeWh: number };
    const c = communityCached();
    document.getElementById('live')!.textContent = `● live: ${c ? localTime(d.interval, c.timeZone) : d.interval} cleared, ${kwh(d.volumeWh)} kWh`;
    const showsLatest = !location.hash.includes('to=') && (current === '' || current === 'market');
    if (showsLatest && !pending) pending = setTimeout(() => { pending = undefined; void render(); }, 3000);
  });
}

window.addEventListener('hashchange', () => void render());
onLogin(() => { whoAmI(); void render(); });
window.addEventListener('hashchange', () => window.scrollTo(0, 0));
whoAmI();
live();
void picker();
void render();
