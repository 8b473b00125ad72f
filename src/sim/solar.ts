/**
 * PV production: NOAA's solar position, the Haurwitz clear-sky irradiance, a Meinel
 * direct beam, isotropic diffuse and ground reflection on a tilted plane, a performance
 * ratio, and a seeded cloud factor. Angles in degrees at the interface; azimuth of the
 * panel clockwise from north (180 = facing south).
 */
const RAD = Math.PI / 180;

export interface SolarPosition {
  /** Zenith angle in degrees (90 = horizon). */
  readonly zenith: number;
  /** Azimuth clockwise from north, degrees. */
  readonly azimuth: number;
}

export function solarPosition(ms: number, latitude: number, longitude: number): SolarPosition {
  const date = new Date(ms);
  const start = Date.UTC(date.getUTCFullYear(), 0, 1);
  const doy = Math.floor((ms - start) / 86_400_000) + 1;
  const hour = date.getUTCHours() + date.getUTCMinutes() / 60 + date.getUTCSeconds() / 3600;
  const g = ((2 * Math.PI) / 365) * (doy - 1 + (hour - 12) / 24);
  const eqtime = 229.18 * (0.000075 + 0.001868 * Math.cos(g) - 0.032077 * Math.sin(g) - 0.014615 * Math.cos(2 * g) - 0.040849 * Math.sin(2 * g));
  const decl = 0.006918 - 0.399912 * Math.cos(g) + 0.070257 * Math.sin(g) - 0.006758 * Math.cos(2 * g) + 0.000907 * Math.sin(2 * g) - 0.002697 * Math.cos(3 * g) + 0.00148 * Math.sin(3 * g);
  const tst = hour * 60 + eqtime + 4 * longitude;
  const ha = (tst / 4 - 180) * RAD;
  const lat = latitude * RAD;
  const cosZ = Math.min(1, Math.max(-1, Math.sin(lat) * Math.sin(decl) + Math.cos(lat) * Math.cos(decl) * Math.cos(ha)));
  const zen = Math.acos(cosZ);
  // Azimuth from south (west positive), turned to clockwise from north.
  const az = (Math.atan2(Math.sin(ha), Math.cos(ha) * Math.sin(lat) - Math.tan(decl) * Math.cos(lat)) / RAD + 180 + 360) % 360;
  return { zenith: zen / RAD, azimuth: az };
}

/** planeOfArray: clear-sky irradiance (W/m²) on a plane of `tilt` and `azimuth` for a sun position. */
export function planeOfArray(sun: SolarPosition, tilt: number, azimuth: number, albedo = 0.2): number {
  if (sun.zenith >= 90) return 0;
  const cosZ = Math.cos(sun.zenith * RAD);
  const ghi = 1098 * cosZ * Math.exp(-0.057 / cosZ);
  const airMass = 1 / (cosZ + 0.50572 * (96.07995 - sun.zenith) ** -1.6364);
  const dni = Math.min(ghi / Math.max(cosZ, 0.01), 1353 * 0.7 ** (airMass ** 0.678));
  const dhi = Math.max(0, ghi - dni * cosZ);
  const t = tilt * RAD;
  const cosAoi = Math.cos(sun.zenith * RAD) * Math.cos(t) + Math.sin(sun.zenith * RAD) * Math.sin(t) * Math.cos((sun.azimuth - azimuth) * RAD);
  return Math.max(0, dni * Math.max(0, cosAoi) + dhi * (1 + Math.cos(t)) / 2 + ghi * albedo * (1 - Math.cos(t)) / 2);
}

export interface PvSystem {
  readonly kWp: number;
  readonly tilt: number;
  readonly azimuth: number;
}

export const PERFORMANCE_RATIO = 0.85;

/**
 * pvEnergy gives the Wh a system produces in [start, start + minutes), sampling the
 * irradiance at three points, times the interval's cloud factor (1 = clear sky).
 */
export function pvEnergy(pv: PvSystem, start: number, minutes: number, latitude: number, longitude: number, cloud: number): number {
  let poa = 0;
  for (const f of [1 / 6, 3 / 6, 5 / 6]) poa += planeOfArray(solarPosition(start + f * minutes * 60_000, latitude, longitude), pv.tilt, pv.azimuth);
  return Math.round(pv.kWp * (poa / 3 / 1000) * PERFORMANCE_RATIO * cloud * (minutes / 60) * 1000);
}
