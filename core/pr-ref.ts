import { AoError } from './errors.js';

/**
 * PR references (SPEC §3 "PR refs accepted everywhere") and GitHub origins. Pure functions: no I/O,
 * no `gh`. The API, the worker and the CLI all parse with this module, so a ref the CLI accepts is
 * exactly a ref the API accepts.
 *
 * Accepted PR refs (surrounding whitespace ignored):
 *   142 · #142 · owner/repo#142 · https://github.com/owner/repo/pull/142
 * and for the URL form: `www.github.com`, a `.git` on the repo, a trailing slash, the PR page tabs
 * `/files`, `/changes` (GitHub's newer name for the files tab), `/commits` (also `/commits/<sha>`,
 * a commit inside the PR) and `/checks`, and any query or fragment (`?w=1`, `#issuecomment-1`).
 *
 * Deliberately rejected, because SPEC §3 says "anything else → INVALID_PR_REF" and each of these is
 * more likely a mistake than a PR: `http://` and scheme-less `github.com/…` (a copied PR URL always
 * has `https://`), other hosts (GitHub Enterprise, `api.github.com`), `/issues/5`, `/pulls/5`,
 * a port or user name in the URL, a sign or anything but digits in the number, 0, numbers beyond
 * GitHub's 32-bit GraphQL `Int`, and whitespace inside the ref (WHATWG URL parsing would silently
 * delete a tab or newline and turn `pull/1\n2` into `pull/12`, so we never hand the ref to `new URL`).
 */

export type PrRef =
  | { kind: 'number'; number: number }
  | { kind: 'full'; owner: string; repo: string; number: number };

export interface RepoRef {
  owner: string;
  repo: string;
}

export interface ResolvedPr {
  owner: string;
  repo: string;
  number: number;
  /** canonical URL, owner/repo casing as typed (or as in the project origin for number refs) */
  url: string;
}

/** One line naming every accepted form, for error messages and CLI help. */
export const PR_REF_FORMS = '142, #142, owner/repo#142 or https://github.com/owner/repo/pull/142';

/** GitHub's GraphQL `pullRequest(number: Int!)` is a signed 32-bit integer. */
const MAX_PR_NUMBER = 2_147_483_647;

/**
 * GitHub logins: letters, digits and hyphens, at most 39, never starting with a hyphen. Trailing and
 * doubled hyphens are not allowed for new accounts but legacy accounts have them, so we accept them.
 */
const OWNER_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/;
/** GitHub repository names: letters, digits, `.`, `_`, `-`, at most 100; `.` and `..` are reserved. */
const REPO_RE = /^[A-Za-z0-9._-]{1,100}$/;

const NUMBER_RE = /^#?([0-9]+)$/;
const SHORTHAND_RE = /^([^/#]+)\/([^/#]+)#([0-9]+)$/;
/** Scheme and host are case-insensitive; the host must end the authority (no port, no user). */
const PR_URL_PREFIX_RE = /^https:\/\/(?:www\.)?github\.com(?=[/?#]|$)/i;
/** The path after the host; the `pull` segment and the tab names are case-sensitive, as on GitHub. */
const PR_URL_PATH_RE =
  /^\/([^/]+)\/([^/]+)\/pull\/([0-9]+)(?:\/(?:files|changes|checks|commits(?:\/[0-9a-f]{7,40})?))?\/?$/;

/** Parses a PR reference; throws `INVALID_PR_REF` naming the accepted forms. */
export function parsePrRef(input: string): PrRef {
  const ref = input.trim();
  if (ref === '') throw invalidRef(input, 'it is empty');
  if (/\s/.test(ref)) throw invalidRef(input, 'it contains whitespace');

  const numeric = NUMBER_RE.exec(ref);
  if (numeric) return { kind: 'number', number: prNumber(numeric[1], input) };

  if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) return parsePrUrl(ref, input);
  if (/^(?:www\.)?github\.com\//i.test(ref)) {
    throw invalidRef(input, 'a PR URL must start with https://');
  }

  if (/^#?[+-]?[0-9]/.test(ref) && !ref.includes('/')) {
    throw invalidRef(input, `the PR number must be digits only, from 1 to ${MAX_PR_NUMBER}`);
  }

  const shorthand = SHORTHAND_RE.exec(ref);
  if (shorthand) return fullRef(shorthand[1], shorthand[2], shorthand[3], input);

  throw invalidRef(input, 'it is not a PR number, owner/repo#number or a GitHub pull request URL');
}

function parsePrUrl(ref: string, input: string): PrRef {
  const prefix = PR_URL_PREFIX_RE.exec(ref);
  if (!prefix) throw invalidRef(input, 'only https://github.com pull request URLs are accepted');
  // Query and fragment carry view state (`?w=1`, `#discussion_r1`), never the PR's identity.
  const path = ref.slice(prefix[0].length).replace(/[?#].*$/, '');
  const match = PR_URL_PATH_RE.exec(path);
  if (!match) throw invalidRef(input, 'the URL is not a pull request (expected /<owner>/<repo>/pull/<number>)');
  return fullRef(match[1], match[2], match[3], input);
}

function fullRef(
  owner: string | undefined,
  repo: string | undefined,
  digits: string | undefined,
  input: string,
): PrRef {
  const names = validRepo(owner ?? '', repo ?? '');
  if (typeof names === 'string') throw invalidRef(input, names);
  return { kind: 'full', owner: names.owner, repo: names.repo, number: prNumber(digits, input) };
}

function prNumber(digits: string | undefined, input: string): number {
  const n = Number(digits);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PR_NUMBER) {
    throw invalidRef(input, `the PR number must be digits only, from 1 to ${MAX_PR_NUMBER}`);
  }
  return n;
}

/**
 * Checks owner and repo against GitHub's naming rules, dropping one `.git` from the repo (GitHub
 * never creates a repo whose name ends in `.git`, so it is always a clone-URL suffix). Returns the
 * names, or a reason why they are not valid.
 */
function validRepo(owner: string, rawRepo: string): RepoRef | string {
  const repo = rawRepo.endsWith('.git') ? rawRepo.slice(0, -'.git'.length) : rawRepo;
  if (!OWNER_RE.test(owner)) return `"${clip(owner)}" is not a valid GitHub owner`;
  if (!REPO_RE.test(repo) || repo === '.' || repo === '..') {
    return `"${clip(rawRepo)}" is not a valid GitHub repository name`;
  }
  return { owner, repo };
}

function invalidRef(input: string, reason: string): AoError {
  return new AoError(
    'INVALID_PR_REF',
    `invalid PR reference "${clip(input.trim())}": ${reason}; use ${PR_REF_FORMS}`,
    { ref: input },
  );
}

/** Keeps echoed input readable: a pasted paragraph must not become a paragraph-long error. */
function clip(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/*
 * Origins. A project's origin is whatever `git remote get-url origin` printed (or `gh repo view`),
 * so every clone-URL form git understands for GitHub is accepted:
 *   https://github.com/o/r(.git)  http://…  ssh://git@github.com(:22)/o/r.git  git://github.com/o/r
 *   git+ssh://…  git@github.com:o/r.git  (scp form)  with www.github.com or ssh.github.com (GitHub's
 *   SSH-over-443 host) and an optional trailing slash.
 * A user name or token in the authority (`https://x-access-token:…@github.com/o/r`, common in CI) is
 * tolerated and dropped. The path must be exactly owner/repo: an origin is a clone URL, not a page.
 */
const ORIGIN_URL_RE =
  /^(?:https?|ssh|git|git\+ssh|ssh\+git):\/\/(?:[^@/?#\s]+@)?(?:www\.|ssh\.)?github\.com(?::[0-9]{1,5})?\/([^/?#\s]+)\/([^/?#\s]+?)\/?$/i;
const ORIGIN_SCP_RE = /^(?:[A-Za-z0-9._-]+@)?(?:www\.|ssh\.)?github\.com:\/?([^/?#\s]+)\/([^/?#\s]+?)\/?$/i;

/** Owner and repo of a GitHub origin, casing as given; null for anything else (including ""). */
export function parseRepoUrl(url: string): RepoRef | null {
  const origin = url.trim();
  const match = ORIGIN_URL_RE.exec(origin) ?? ORIGIN_SCP_RE.exec(origin);
  if (!match) return null;
  const names = validRepo(match[1] ?? '', match[2] ?? '');
  return typeof names === 'string' ? null : names;
}

/** `https://github.com/<owner>/<repo>` — how a project's origin is stored. Expects valid names. */
export function normalizeRepoUrl(owner: string, repo: string): string {
  return `https://github.com/${owner}/${repo}`;
}

/** The PR's URL for display, casing as given. Expects valid names and a positive number. */
export function canonicalPrUrl(owner: string, repo: string, number: number): string {
  return `${normalizeRepoUrl(owner, repo)}/pull/${number}`;
}

/**
 * The database identity of a PR: the canonical URL with owner and repo lower-cased, because GitHub
 * treats them case-insensitively and `Foo/Bar#1` typed by a user must find the row GitHub named
 * `foo/bar#1` (seed gap G7).
 */
export function prIdentityKey(owner: string, repo: string, number: number): string {
  return canonicalPrUrl(owner.toLowerCase(), repo.toLowerCase(), number);
}

/**
 * Resolves a ref against the project it is claimed for.
 *
 * - A number ref takes owner/repo from the project's GitHub origin; without one (empty or not
 *   GitHub) it cannot be resolved → `INVALID_PR_REF`. The API never shells out to `gh`; the CLI may
 *   look the origin up itself and send a full URL instead.
 * - A full ref must name the project's repository (case-insensitively) → else `PR_PROJECT_MISMATCH`.
 *   A non-GitHub origin (a GitLab checkout, say) cannot own a GitHub PR, so that is a mismatch too.
 * - A full ref for a project with an EMPTY origin is accepted unchecked (seed gap G8, kept on
 *   purpose): an unknown origin is not evidence of a mismatch, and refusing would make such projects
 *   unable to claim anything. Callers that can learn the origin (the CLI via `gh repo view`) should
 *   record it on the project so the check applies.
 *
 * Error details never include the raw origin: it may carry a token (`https://x-access-token:…@`).
 */
export function resolvePrRef(ref: PrRef | string, projectRepoUrl: string): ResolvedPr {
  const pr = typeof ref === 'string' ? parsePrRef(ref) : ref;
  const originIsEmpty = projectRepoUrl.trim() === '';
  const origin = parseRepoUrl(projectRepoUrl);

  if (pr.kind === 'number') {
    if (!origin) {
      throw new AoError(
        'INVALID_PR_REF',
        'project has no GitHub origin; pass the full PR URL (https://github.com/<owner>/<repo>/pull/<n>)',
        { ref: typeof ref === 'string' ? ref : `#${pr.number}` },
      );
    }
    return resolved(origin.owner, origin.repo, pr.number);
  }

  if (!originIsEmpty && !sameRepo(pr, origin)) throw mismatch(pr, origin);
  return resolved(pr.owner, pr.repo, pr.number);
}

function sameRepo(a: RepoRef, b: RepoRef | null): boolean {
  if (b === null) return false;
  return a.owner.toLowerCase() === b.owner.toLowerCase() && a.repo.toLowerCase() === b.repo.toLowerCase();
}

function mismatch(pr: RepoRef & { number: number }, origin: RepoRef | null): AoError {
  const prRepo = `${pr.owner}/${pr.repo}`;
  const projectRepo = origin ? `${origin.owner}/${origin.repo}` : null;
  const url = canonicalPrUrl(pr.owner, pr.repo, pr.number);
  const message = projectRepo
    ? `PR ${url} belongs to ${prRepo}, but this project's repository is ${projectRepo}`
    : `PR ${url} belongs to ${prRepo}, but this project's origin is not a GitHub repository`;
  return new AoError('PR_PROJECT_MISMATCH', message, { prRepo, projectRepo });
}

function resolved(owner: string, repo: string, number: number): ResolvedPr {
  return { owner, repo, number, url: canonicalPrUrl(owner, repo, number) };
}
