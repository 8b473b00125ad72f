import { view } from '../ui.ts';

/** Actions: a member's standing buy and sell prices, their data, their certificates (signed in the browser, web/src/sign.ts). */
export async function ordersView(_q: URLSearchParams): Promise<void> {
  view.innerHTML = '<h1>Coming</h1>';
}
