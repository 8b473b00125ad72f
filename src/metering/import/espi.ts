import { XMLParser } from 'fast-xml-parser';
import { OpenlecError } from '../../errors.ts';
import type { Direction } from '../meter-register.ts';
import type { StepSet } from './steps.ts';

/**
 * Green Button / ESPI: an Atom feed whose entries hold a ReadingType (uom, power of ten
 * multiplier, flow direction) and IntervalBlocks of IntervalReadings (timePeriod start in
 * epoch seconds, duration in seconds, value). The energy is value x 10^multiplier in the
 * unit uom; only uom 72 (Wh) is energy, so anything else is refused. ESPI has no
 * metering point id, so the caller names the meter. Blocks are tied to their ReadingType
 * through the MeterReading links; a file with a single ReadingType needs none. Energy is
 * kept exactly in mWh, so the StepSet's divisor must be 1000.
 */
const UOM_WH = 72;
const FLOW: Record<string, Direction> = { '1': 'import', '19': 'export' };

type Node = Record<string, unknown>;
const asArray = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

export function parseEspi(text: string, steps: StepSet, meter: string, direction?: Direction): void {
  const xml = new XMLParser({ ignoreAttributes: false, removeNSPrefix: true, parseTagValue: false });
  let doc: Node;
  try {
    doc = xml.parse(text, true) as Node;
  } catch (e) {
    throw new OpenlecError('E_ESPI_XML', `${steps.file}: not well-formed XML: ${(e as Error).message}`, { field: 'file' });
  }
  const entries = asArray((doc.feed as Node | undefined)?.entry as Node | Node[]);
  if (entries.length === 0) throw new OpenlecError('E_ESPI_FORMAT', `${steps.file}: no Atom entries`, { field: 'file' });
  const links = (e: Node) => Object.fromEntries(asArray(e.link as Node | Node[]).map((l) => [String(l['@_rel']), String(l['@_href']).trim()]));
  const readingTypes = new Map<string, Node>();
  const meterReadingType = new Map<string, string>();
  for (const e of entries) {
    const content = e.content as Node | undefined;
    const l = links(e);
    if (content?.ReadingType) readingTypes.set(l.self ?? '', content.ReadingType as Node);
    if (content?.MeterReading !== undefined) {
      const related = asArray(e.link as Node | Node[]).map((x) => String(x['@_href'])).find((h) => h.includes('ReadingType'));
      if (related) meterReadingType.set(l.self ?? '', related.trim());
    }
  }
  if (readingTypes.size === 0) throw new OpenlecError('E_ESPI_FORMAT', `${steps.file}: no ReadingType`, { field: 'file' });
  for (const e of entries) {
    const blocks = asArray((e.content as Node | undefined)?.IntervalBlock as Node | Node[]);
    if (blocks.length === 0) continue;
    const up = links(e).up ?? '';
    const rtHref = meterReadingType.get(up.replace(/\/IntervalBlock$/, ''));
    const rt = (rtHref && readingTypes.get(rtHref)) || (readingTypes.size === 1 ? [...readingTypes.values()][0]! : undefined);
    if (!rt) throw new OpenlecError('E_ESPI_FORMAT', `${steps.file}: cannot tell the ReadingType of the IntervalBlock at ${up}`, { field: 'file' });
    if (Number(rt.uom) !== UOM_WH) throw new OpenlecError('E_ESPI_UNIT', `${steps.file}: ReadingType uom ${String(rt.uom)} is not 72 (Wh); only energy readings are imported`, { field: 'uom' });
    const p = Number(rt.powerOfTenMultiplier ?? 0);
    const flow = FLOW[String(rt.flowDirection ?? '1')];
    const dir = direction ?? flow;
    if (!dir) throw new OpenlecError('E_ESPI_FORMAT', `${steps.file}: flowDirection ${String(rt.flowDirection)} is neither 1 (delivered) nor 19 (received)`, { field: 'flowDirection' });
    if (!Number.isInteger(p) || p < -3 || p > 9) throw new OpenlecError('E_ESPI_UNIT', `${steps.file}: powerOfTenMultiplier ${String(rt.powerOfTenMultiplier)} is outside -3..9 (values are kept exactly in mWh)`, { field: 'powerOfTenMultiplier' });
    for (const block of blocks) {
      for (const r of asArray(block.IntervalReading as Node | Node[])) {
        const period = r.timePeriod as Node | undefined;
        const start = Number(period?.start);
        const seconds = Number(period?.duration);
        const value = String(r.value ?? '').trim();
        const where = `IntervalReading at ${String(period?.start)}`;
        if (!Number.isSafeInteger(start) || !Number.isSafeInteger(seconds) || seconds <= 0 || seconds % 60 !== 0 || !/^\d+$/.test(value)) {
          steps.errors.push({ file: steps.file, line: 0, message: `${where}: needs an integer start, a whole-minute duration and a non-negative integer value` });
          continue;
        }
        // Exactly in mWh (the StepSet divisor is 1000): value x 10^(p + 3).
        const numerator = Number(value) * 10 ** (p + 3);
        steps.add(meter, dir, start * 1000, seconds / 60, numerator, 0);
      }
    }
  }
}
