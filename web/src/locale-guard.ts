/**
 * Imported first by main.ts: a browser may report a language tag Intl refuses (headless
 * Chromium under LANG=C says "en-US@posix"), and the chart library formats numbers in
 * navigator.language when it loads, which would stop the whole page. Such a tag is read as
 * en-GB; any valid one is left alone.
 */
try {
  new Intl.NumberFormat(navigator.language);
} catch {
  Object.defineProperty(navigator, 'language', { value: 'en-GB', configurable: true });
}
