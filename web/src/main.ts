import { ApiError, logout, session } from './api.ts';
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

/**
 * The dashboard: one page, its views chosen by the URL's hash (#/, #/market,
 * #/allocation, #/me, #/origin, #/certificates, #/flex, #/flex-earnings, #/charging,
 * #/charging-mine, #/ledger), each a module of views/ (or of the domain's file) rendered
 * from the API. Proofs are checked with the CLI's verification code.
 */
function whoAmI(): void {
  const s = session();
  const who = document.getElementById('who')!;
  who.innerHTML = s ? `<span title="${esc(s.key)}">${esc(s.roles.join(', '))} <code>${esc(short(s.key))}</code></span> <button class="link" id="logout">log out</button>` : '<a href="#/me">log in</a>';
  document.getElementById('logout')?.addEventListener('click', () => { logout(); whoAmI(); void render(); });
}

const ui: Ui = { view, session, community, loginPrompt, table, tile };
const VIEWS: Record<string, (q: URLSearchParams) => Promise<void>> = {
  '': communityView, market: marketView, allocation: allocationView, me: meView, origin: (q) => originView(ui, q), certificates: () => certificatesView(ui), flex: (q) => flexView(ui, q), 'flex-earnings': (q) => flexEarningsView(ui, q), charging: (q) => chargingView(ui, q), 'charging-mine': (q) => chargingMineView(ui, q), ledger: ledgerView, orders: ordersView, operate: operateView, network: networkView,
};
// The certificate views' links, after "My energy" (the page's nav lists the first five).
document.querySelector('nav a[href="#/me"]')?.insertAdjacentHTML('afterend', '<a href="#/origin" data-view="origin">My origin</a><a href="#/certificates" data-view="certificates">Certificates</a><a href="#/flex" data-view="flex">Flexibility</a><a href="#/flex-earnings" data-view="flex-earnings">My flexibility</a><a href="#/charging" data-view="charging">Charging</a><a href="#/charging-mine" data-view="charging-mine">My charging</a><a href="#/orders" data-view="orders">My orders</a><a href="#/operate" data-view="operate">Operate</a><a href="#/network" data-view="network">Network</a>');
let current = '';

async function render(): Promise<void> {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?') as [string, string | undefined];
  current = path in VIEWS ? path : '';
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('active', a.getAttribute('href') === `#/${current}`);
  document.body.dataset.view = current || 'community';
  delete document.body.dataset.ready;
  try {
    await VIEWS[current]!(new URLSearchParams(query ?? ''));
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
  const es = new EventSource('/v1/events');
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
whoAmI();
live();
void render();
