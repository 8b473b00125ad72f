import { view } from '../ui.ts';

/** Actions: the operator's month: meter files, allocation, market (signed in the browser, web/src/sign.ts). */
export async function operateView(_q: URLSearchParams): Promise<void> {
  view.innerHTML = '<h1>Coming</h1>';
}
