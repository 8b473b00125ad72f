import { XMLParser } from 'fast-xml-parser';
import { OpenlecError } from '../../errors.ts';
import { formatInstant } from '../../units/index.ts';
import type { Direction } from '../meter-register.ts';
import { READING_MAX_WH, type StepSet } from './steps.ts';

/**
 * Green Button / ESPI: an Atom feed whose entries hold a ReadingType (uom, power of ten
 * multiplier, flow direction) and IntervalBlocks of IntervalReadings (timePeriod start in
 * epoch seconds, duration in seconds, value). The energy is value x 10^multiplier in the
 * unit uom; only uom 72 (Wh) is energy, so anything else is refused. ESPI has no
 * metering point id, so the caller names the meter. Blocks are tied to their ReadingType
 * through the MeterReading links; a file with a single ReadingType needs none. Energy is
 * kept exactly in mWh, so the StepSet's divisor must be 1000. The feed is parsed as one
 * document (the caller caps its size); errors name the line and the element
 * (`entry[3]/IntervalBlock[1]/IntervalReading[8]`) with its start time and value.
 */
const UOM_WH = 72;
const FLOW: Record<string, Direction> = { '1': 'import', '19': 'export' };

type Node = Record<string, unknown>;
const asArray = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
const META = XMLParser.getMetaDataSymbol() as unknown as string;

/** Lines finds the line of a character offset, counting forward from the last one asked (elements are visited in document order). */
class Lines {
  private offset = 0;
  private line = 1;
  constructor(private readonly text: string) {}

  of(node: unknown): number | undefined {
    const at = (node as { [META]?: { startIndex?: number } } | undefined)?.[META]?.startIndex;
    if (at === undefined) return undefined;
    if (at < this.offset) {
      this.offset = 0;
      this.line = 1;
    }
    for (let i = this.text.indexOf('\n', this.offset); i >= 0 && i < at; i = this.text.indexOf('\n', i + 1)) this.line++;
    this.offset = at;
    return this.line;
  }
}

export function parseEspi(text: string, steps: StepSet, meter: string, direction?: Direction): void {
  const xml = new XMLParser({ ignoreAttributes: false, removeNSPrefix: true, parseTagValue: false, captureMetaData: true });
  let doc: Node;
  try {
    doc = xml.parse(text, true) as Node;
  } catch (e) {
    // fast-xml-parser ends its message with ":line:column".
    const m = /^(.*?)\.?:(\d+):\d+$/s.exec((e as Error).message);
    throw new OpenlecError('E_ESPI_XML', `${steps.file}${m ? `:${m[2]}` : ''}: not well-formed XML: ${m ? m[1] : (e as Error).message}`, { field: 'file' });
  }
  const lines = new Lines(text);
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
  entries.forEach((e, n) => {
    const blocks = asArray((e.content as Node | undefined)?.IntervalBlock as Node | Node[]);
    if (blocks.length === 0) return;
    const up = links(e).up ?? '';
    const rtHref = meterReadingType.get(up.replace(/\/IntervalBlock$/, ''));
    const rt = (rtHref && readingTypes.get(rtHref)) || (readingTypes.size === 1 ? [...readingTypes.values()][0]! : undefined);
    if (!rt) throw new OpenlecError('E_ESPI_FORMAT', `${steps.file}:${lines.of(e) ?? '?'}: entry[${n + 1}]: cannot tell the ReadingType of the IntervalBlock at ${up}`, { field: 'file' });
    const unit = readingUnit(rt, direction, () => `${steps.file}:${lines.of(rt) ?? '?'}: ReadingType`);
    blocks.forEach((block, b) => {
      asArray(block.IntervalReading as Node | Node[]).forEach((r, k) => {
        readInterval(r, steps, meter, unit, lines.of(r) ?? 0, `entry[${n + 1}]/IntervalBlock[${b + 1}]/IntervalReading[${k + 1}]`);
      });
    });
  });
}

/** readingUnit checks a ReadingType: energy in Wh, a multiplier kept exactly in mWh, a known flow direction. */
function readingUnit(rt: Node, direction: Direction | undefined, where: () => string): { p: number; dir: Direction } {
  if (Number(rt.uom) !== UOM_WH) throw new OpenlecError('E_ESPI_UNIT', `${where()} uom ${String(rt.uom)} is not 72 (Wh); only energy readings are imported`, { field: 'uom' });
  const p = Number(rt.powerOfTenMultiplier ?? 0);
  const dir = direction ?? FLOW[String(rt.flowDirection ?? '1')];
  if (!dir) throw new OpenlecError('E_ESPI_FORMAT', `${where()} flowDirection ${String(rt.flowDirection)} is neither 1 (delivered) nor 19 (received)`, { field: 'flowDirection' });
  if (!Number.isInteger(p) || p < -3 || p > 9) throw new OpenlecError('E_ESPI_UNIT', `${where()} powerOfTenMultiplier ${String(rt.powerOfTenMultiplier)} is outside -3..9 (values are kept exactly in mWh)`, { field: 'powerOfTenMultiplier' });
  return { p, dir };
}

/** readInterval adds one IntervalReading as a step, or says at which line and element it is wrong. */
function readInterval(r: Node, steps: StepSet, meter: string, unit: { p: number; dir: Direction }, line: number, element: string): void {
  const period = r.timePeriod as Node | undefined;
  const start = Number(period?.start);
  const seconds = Number(period?.duration);
  const value = String(r.value ?? '').trim();
  const where = `${element} (start ${Number.isSafeInteger(start) ? formatInstant(start * 1000) : `"${String(period?.start ?? '')}"`}, value "${value}")`;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(seconds) || seconds <= 0 || seconds % 60 !== 0 || !/^\d+$/.test(value)) {
    return steps.fail(line, `${where}: needs an integer start, a whole-minute duration and a non-negative integer value`);
  }
  // Exactly in mWh (the StepSet divisor is 1000): value x 10^(p + 3).
  const numerator = Number(value) * 10 ** (unit.p + 3);
  if (!Number.isSafeInteger(Number(value)) || numerator > READING_MAX_WH * 1000) {
    return steps.fail(line, `${where}: ${value} x 10^${unit.p} Wh is above the ${READING_MAX_WH} Wh an interval may hold`);
  }
  const before = steps.errors.length;
  steps.add(meter, unit.dir, start * 1000, seconds / 60, numerator, line);
  // The StepSet says what is wrong; the element and its start say where.
  if (steps.errors.length > before) {
    const e = steps.errors.pop()!;
    steps.fail(line, `${where}: ${e.message}`);
  }
}
