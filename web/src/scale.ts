/** Chart scales. */

/** A round number at or above `value` for the top of an axis: 1, 2 or 5 times a power of ten. */
export function niceMax(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    return 1;
  }
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 5, 10]) {
    if (factor * power >= value * (1 - 1e-9)) {
      return factor * power;
    }
  }
  return 10 * power;
}

/** Seconds as people read them: µs, ms or s. */
export function formatSeconds(seconds: number): string {
  if (seconds === 0) {
    return "0";
  }
  if (seconds < 0.000_001) {
    return "< 1 µs";
  }
  if (seconds < 0.001) {
    return `${Math.round(seconds * 1e6)} µs`;
  }
  if (seconds < 1) {
    return `${+(seconds * 1000).toPrecision(3)} ms`;
  }
  return `${+seconds.toPrecision(3)} s`;
}

/** A count: whole numbers as they are, fractions to two significant digits. */
export function formatCount(value: number): string {
  return Number.isInteger(value) ? String(value) : String(+value.toPrecision(2));
}

/** A bucket width in words: "30 s", "2 min", "1 h". */
export function formatStep(ms: number): string {
  if (ms < 60_000) {
    return `${+(ms / 1000).toPrecision(3)} s`;
  }
  if (ms < 3_600_000) {
    return `${+(ms / 60_000).toPrecision(3)} min`;
  }
  return `${+(ms / 3_600_000).toPrecision(3)} h`;
}
