/**
 * Whether `name` may be a branch, by the rules of `git check-ref-format --branch` (git's
 * refs.c), checked without running git — the API holds no checkout to run it in. Stricter than
 * git in two ways, both on purpose: a name git would expand (`@{-1}`, `@`) is refused, since the
 * name must stand for itself, and so is a name starting with "-", which a command would read as an
 * option. test/unit/branch-name.test.ts holds these rules against git itself.
 */
export function isValidBranchName(name: string): boolean {
  if (name === '' || name === '@' || name === 'HEAD' || name.startsWith('-')) return false;
  // control characters, space, and the characters git gives a meaning in revisions and globs
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(name)) return false;
  if (name.includes('..') || name.includes('@{') || name.endsWith('.')) return false;
  return name.split('/').every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock'));
}
