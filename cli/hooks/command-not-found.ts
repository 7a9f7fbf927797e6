import type { Hook } from '@oclif/core';
import { argvWantsJson, renderFailure } from '../failure-output.js';

/**
 * `ao sesion ls`: says the command is unknown, suggests the nearest command or topic
 * (`did you mean \`ao session ls\`?`) and exits 2 (usage). Under `--json` the failure is one JSON
 * document like every other. Never prompts (oclif's plugin-not-found asks y/n on a terminal).
 */
const hook: Hook.CommandNotFound = async function (opts) {
  const words = opts.id.split(':').filter(Boolean);
  const typed = words.join(' ');
  const json = argvWantsJson([...words, ...(opts.argv ?? [])]);
  const candidates = [...opts.config.commandIDs, ...opts.config.topics.map((t) => t.name)].filter((id) => !opts.config.findCommand(id)?.hidden);
  const match = nearest(words, candidates);
  let message: string;
  let suggestion: string | null = null;
  let command = typed;
  if (typed.startsWith('-')) {
    message = `\`${typed}\` needs a command before it; see \`ao --help\` for the commands`;
  } else if (match) {
    // the rest of the line, when it can be pasted back as it is
    const rest = [...words.slice(match.words), ...(opts.argv ?? [])];
    suggestion = ['ao', match.id, ...(rest.every((w) => /^[\w@%+=:,./#-]+$/.test(w)) ? rest : [])].join(' ');
    command = words.slice(0, match.words).join(' ');
    message = `command \`${command}\` not found: did you mean \`${suggestion}\`? (\`ao --help\` lists the commands)`;
  } else {
    message = `command \`${typed}\` not found; see \`ao --help\` for the commands`;
  }
  renderFailure({ code: 'COMMAND_NOT_FOUND', message, details: { command, suggestion }, exit: 2 }, json);
  this.exit(2);
};

export default hook;

/**
 * The command or topic nearest what was typed, compared word for word over its own length (the
 * words after it are taken for arguments): at most a third of its letters wrong (one at least).
 */
function nearest(words: readonly string[], candidates: readonly string[]): { id: string; words: number } | null {
  let best: { id: string; words: number; score: number } | null = null;
  for (const id of new Set(candidates)) {
    const parts = id.split(':');
    if (parts.length > words.length) continue;
    const typed = words.slice(0, parts.length).join(' ');
    const wanted = parts.join(' ');
    const distance = levenshtein(typed, wanted);
    if (distance > Math.max(1, Math.floor(wanted.length / 3))) continue;
    // prefer the longer match (`session lss` → `session ls`, not the topic), then fewer mistakes
    const score = distance - parts.length * 1000;
    if (!best || score < best.score) best = { id: wanted, words: parts.length, score };
  }
  return best ? { id: best.id, words: best.words } : null;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
