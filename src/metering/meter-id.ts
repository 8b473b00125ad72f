/**
 * Metering point identifiers. France: PRM, 14 digits. Spain: CUPS, "ES" + 16 digits + 2
 * control letters, optionally + a digit and a letter (20 or 22 characters). Belgium,
 * Netherlands, Germany: EAN/GSRN, 18 digits with a GS1 check digit. UK: MPAN core, 13
 * digits with its modulus-11 check digit. Anything else: "other".
 */
export const METER_SCHEMES = ['PRM', 'CUPS', 'EAN', 'MPAN', 'other'] as const;
export type MeterScheme = (typeof METER_SCHEMES)[number];

/** isCups tells whether `id` is a Spanish CUPS: ES, 16 digits, 2 letters, optionally a digit and a letter. */
export function isCups(id: string): boolean {
  return /^ES\d{16}[A-Z]{2}(\d[A-Z])?$/.test(id);
}

/** gs1CheckDigitOk checks the last digit of a GS1 number (GSRN, EAN) with weights 3,1,3,... from the right. */
function gs1CheckDigitOk(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 2, w = 3; i >= 0; i--, w = 4 - w) sum += Number(digits[i]) * w;
  return (10 - (sum % 10)) % 10 === Number(digits[digits.length - 1]);
}

/** mpanCheckDigitOk checks the 13th digit of an MPAN core against the first twelve. */
function mpanCheckDigitOk(digits: string): boolean {
  const primes = [3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43];
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(digits[i]) * primes[i]!;
  return (sum % 11) % 10 === Number(digits[12]);
}

/** meterIdProblem says what is wrong with `id` for `scheme`, or undefined when it is well-formed. */
export function meterIdProblem(scheme: MeterScheme, id: string): string | undefined {
  switch (scheme) {
    case 'PRM':
      return /^\d{14}$/.test(id) ? undefined : 'a PRM is 14 digits';
    case 'CUPS':
      return isCups(id) ? undefined : 'a CUPS is ES, 16 digits, 2 letters, optionally a digit and a letter';
    case 'EAN':
      if (!/^\d{18}$/.test(id)) return 'an EAN/GSRN metering point is 18 digits';
      return gs1CheckDigitOk(id) ? undefined : 'the EAN/GSRN check digit is wrong';
    case 'MPAN':
      if (!/^\d{13}$/.test(id)) return 'an MPAN core is 13 digits';
      return mpanCheckDigitOk(id) ? undefined : 'the MPAN check digit is wrong';
    case 'other':
      return /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(id) ? undefined : 'use 1-64 letters, digits, ".", "_", ":" or "-"';
  }
}
