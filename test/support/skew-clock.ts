/**
 * Imported first by a test process whose wall clock must be wrong: shifts Date.now() and
 * `new Date()` by AO_TEST_CLOCK_SKEW_MS, as a host with a drifting clock would.
 */
const skew = Number(process.env.AO_TEST_CLOCK_SKEW_MS ?? 0);
if (skew !== 0) {
  const RealDate = Date;
  const skewed = function (this: unknown, ...args: unknown[]) {
    if (!new.target) return new RealDate(RealDate.now() + skew).toString();
    return args.length === 0 ? new RealDate(RealDate.now() + skew) : new RealDate(...(args as [string]));
  } as unknown as DateConstructor;
  Object.setPrototypeOf(skewed, RealDate);
  Object.defineProperty(skewed, 'prototype', { value: RealDate.prototype });
  skewed.now = () => RealDate.now() + skew;
  globalThis.Date = skewed;
}
export {};
