import { OpenlecClient } from '../../src/api/core.ts';
import { base } from './api.ts';
import { community, esc } from './ui.ts';

interface Listed { id: string; path: string; name: string | null }

const decoded = (path: string) => {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
};

/**
 * The community picker, when the page is served under a community's prefix (`/c/<id>/`, a
 * multi-community server): the header names the community and links to the list of all of
 * them at `/`; when the server lists more than one, a form picks another. The list is the
 * multi-community server's own route at the origin's root (GET /v1/communities, absolute on
 * purpose: a client of the origin, without the community's token, which is never sent
 * outside its prefix); where there is none (a 404) or it fails, only the link is shown.
 */
export async function picker(): Promise<void> {
  if (!base.startsWith('/c/')) return;
  const el = document.getElementById('communities')!;
  const c = await community().catch(() => undefined);
  el.innerHTML = `<span id="community-name">${esc(c?.name ?? decoded(base.slice(3, -1)))}</span> <a href="/" id="other-communities">Other communities</a>`;
  el.hidden = false;
  if (c) document.title = `${c.name}: openlec`;
  const body = await new OpenlecClient(location.origin, { attempts: 2 }).get<{ communities?: Listed[] } | undefined>('/v1/communities').catch(() => undefined);
  const list = (body?.communities ?? []).filter((x) => typeof x.path === 'string' && x.path.startsWith('/c/') && typeof x.id === 'string');
  if (list.length < 2) return;
  const here = decoded(base);
  const options = list.map((x) => `<option value="${esc(x.path)}"${decoded(x.path) === here ? ' selected' : ''}>${esc(x.name ?? x.id)}</option>`).join('');
  el.insertAdjacentHTML('beforeend', `<form id="community-picker"><label for="community-select">Community</label> <select id="community-select">${options}</select> <button type="submit" class="secondary">Open</button></form>`);
  const f = document.getElementById('community-picker') as HTMLFormElement;
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    const to = (document.getElementById('community-select') as HTMLSelectElement).value;
    if (to.startsWith('/c/') && decoded(to) !== here) location.assign(to);
  });
}
