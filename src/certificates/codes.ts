import { OpenlecError } from '../errors.ts';

/**
 * EECS energy-source (fuel) and technology codes (AIB, EECS Rules Fact Sheet 5), the
 * closed list openlec accepts for a production device. Fuel codes are F + four two-digit
 * levels, technology codes T + three. Only renewable electricity inputs that a local
 * community meets are listed; the permissible pairs follow the fact sheet: solar
 * technologies take the solar fuel only, wind the wind fuels, hydro and marine the
 * hydro/marine fuels, biomass technologies the solid/gaseous biomass fuels.
 */
export const FUEL_CODES = {
  F01010100: 'Renewable / Solid / Municipal biogenic waste / Unspecified',
  F01010200: 'Renewable / Solid / Industrial and commercial waste / Unspecified',
  F01010300: 'Renewable / Solid / Forestry products / Unspecified',
  F01020100: 'Renewable / Liquid / Municipal biodegradable waste / Unspecified',
  F01030100: 'Renewable / Gaseous / Landfill gas / Unspecified',
  F01030200: 'Renewable / Gaseous / Sewage gas / Unspecified',
  F01030300: 'Renewable / Gaseous / Other biogas / Unspecified',
  F01040100: 'Renewable / Heating and cooling / Solar / Unspecified',
  F01050100: 'Renewable / Mechanical source or other / Wind / Unspecified',
  F01050200: 'Renewable / Mechanical source or other / Hydro and marine / Unspecified',
} as const;

export const TECHNOLOGY_CODES = {
  T010000: 'Solar / Unspecified',
  T010100: 'Solar / Photovoltaic / Unspecified',
  T010101: 'Solar / Photovoltaic / Classic silicon',
  T010102: 'Solar / Photovoltaic / Thin film',
  T020000: 'Wind / Unspecified',
  T020001: 'Wind / Onshore',
  T020002: 'Wind / Offshore',
  T030000: 'Hydro-electric head installations / Unspecified',
  T030100: 'Hydro-electric head installations / Run-of-river head installation',
  T030200: 'Hydro-electric head installations / Storage head installation',
  T040000: 'Marine / Unspecified',
  T050000: 'Thermal / Unspecified',
  T050100: 'Thermal / Combustion: steam turbine',
  T050300: 'Thermal / Combustion engine',
} as const;

export type FuelCode = keyof typeof FUEL_CODES;
export type TechnologyCode = keyof typeof TECHNOLOGY_CODES;

/** The technology's first level and the fuels it may burn or convert. */
const PERMISSIBLE: Record<string, (fuel: string) => boolean> = {
  T01: (f) => f === 'F01040100',
  T02: (f) => f.startsWith('F010501'),
  T03: (f) => f.startsWith('F010502'),
  T04: (f) => f.startsWith('F010502'),
  T05: (f) => f.startsWith('F0101') || f.startsWith('F0102') || f.startsWith('F0103'),
};

/** technologyKind is the short word the market and the reports use for a technology code. */
export function technologyKind(tech: string): 'solar' | 'wind' | 'hydro' | 'biomass' {
  const level = tech.slice(0, 3);
  return level === 'T01' ? 'solar' : level === 'T02' ? 'wind' : level === 'T05' ? 'biomass' : 'hydro';
}

/** checkCodes refuses a fuel or technology outside the list, and a pair the fact sheet does not allow. */
export function checkCodes(fuel: string, tech: string, field = 'body'): void {
  if (!(fuel in FUEL_CODES)) throw new OpenlecError('E_FUEL_CODE', `${fuel} is not an EECS fuel code openlec knows (${Object.keys(FUEL_CODES).join(', ')})`, { field: `${field}.fuel` });
  if (!(tech in TECHNOLOGY_CODES)) throw new OpenlecError('E_TECHNOLOGY_CODE', `${tech} is not an EECS technology code openlec knows (${Object.keys(TECHNOLOGY_CODES).join(', ')})`, { field: `${field}.technology` });
  if (!PERMISSIBLE[tech.slice(0, 3)]!(fuel)) {
    throw new OpenlecError('E_CODE_PAIR', `technology ${tech} (${TECHNOLOGY_CODES[tech as TechnologyCode]}) cannot take fuel ${fuel} (${FUEL_CODES[fuel as FuelCode]})`, { field: `${field}.fuel` });
  }
}
