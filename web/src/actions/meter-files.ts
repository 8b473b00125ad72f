/** Meter files in the browser: the DSO's load-curve exports parsed by the CLI's importers (filled in by issue 17). */
export function meterFilesSection(): string {
  return '';
}

/** bindMeterFiles wires the section's form once it is in the page. */
export function bindMeterFiles(): void {}
