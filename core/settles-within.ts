/**
 * Waits for `work` to settle (resolve or reject), at most `ms`: true when it did, false when the
 * time ran out first. Never rejects — for shutdown steps that must not hang on a peer that is gone.
 */
export function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const settled = () => {
      clearTimeout(timer);
      resolve(true);
    };
    work.then(settled, settled);
  });
}
