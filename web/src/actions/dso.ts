import { view } from '../ui.ts';

/** Actions: the DSO's network: feeder limits, tariffs, flexibility requests (signed in the browser, web/src/sign.ts). */
export async function networkView(_q: URLSearchParams): Promise<void> {
  view.innerHTML = '<h1>Coming</h1>';
}
