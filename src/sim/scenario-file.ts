import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { OpenlecError } from '../errors.ts';
import { CITY_SCENARIO, DEMO_SCENARIO, EV_CHARGERS_SCENARIO, EV_CONGESTION_SCENARIO, parseScenario, type Scenario, VILLAGE_SCENARIO } from './scenario.ts';

/** The scenarios a run can name instead of a file. */
export const BUILT_IN: Record<string, unknown> = { demo: DEMO_SCENARIO, village: VILLAGE_SCENARIO, city: CITY_SCENARIO, 'ev-congestion': EV_CONGESTION_SCENARIO, 'ev-chargers': EV_CHARGERS_SCENARIO };

/** loadScenario reads a built-in scenario by name, or a YAML or JSON scenario file. */
export function loadScenario(name: string): Scenario {
  if (name in BUILT_IN) return parseScenario(BUILT_IN[name], name);
  if (!existsSync(name)) throw new OpenlecError('E_SCENARIO', `${name}: no such file, and not a built-in scenario (${Object.keys(BUILT_IN).join(', ')})`, { field: 'scenario' });
  const text = readFileSync(name, 'utf8');
  let value: unknown;
  try {
    value = name.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new OpenlecError('E_SCENARIO', `${name}: ${(e as Error).message}`, { field: 'scenario' });
  }
  const s = parseScenario(value, name);
  // Data files are named relative to the scenario file.
  for (const m of s.members) if (m.data) m.data.file = resolve(dirname(name), m.data.file);
  return s;
}

/** readDataFile reads a member's data file (real series), naming the file when it cannot. */
export function readDataFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new OpenlecError('E_SCENARIO_DATA', `${file}: ${(e as Error).message}`, { field: 'data.file' });
  }
}
