// `eval --task infill`: held-out documents with a seeded span of one to three words masked, filled
// by each checkpoint (train/infill.ts) and scored by exact match of the filled words and the loss
// on the middle tokens. The documents are a prepared folder's validation documents or the
// paragraphs of a text file. A checkpoint without FIM sentinels is refused with the line
// `generate --infill` uses, unless --infillMode l2r asks for the left-to-right baseline.
import { statSync } from 'node:fs';
import { CliError } from '../cli-error.ts';
import { heldOutDocuments, requireFim, scoreInfill, type InfillMode } from '../infill.ts';
import { readInputText } from './lm.ts';
import type { OpenedModel } from './run.ts';

export const INFILL_MODES: readonly InfillMode[] = ['psm', 'spm', 'l2r'];

export interface InfillEvalOptions {
  input: string;
  mode: InfillMode;
  seed: number;
  /** The first this many documents (0 = all). */
  maxExamples: number;
  /** Tokens generated per filling at most. */
  maxNewTokens: number;
  /** > 0: the prefix and suffix kept around each gap, in characters (0 = all). */
  contextChars?: number;
  log?: (line: string) => void;
}

export interface InfillCheckpointResult {
  checkpoint: string;
  step: number;
  documents: number;
  /** Share of documents whose masked words were filled exactly, in [0, 1]. */
  exactMatch: number;
  /** Mean loss per middle token, nats. */
  middleLoss: number;
  middleTokens: number;
}

export interface InfillEvalRun {
  task: 'infill';
  mode: InfillMode;
  input: string;
  source: string;
  checkpoints: InfillCheckpointResult[];
}

/** The documents to mask: a prepared folder's validation documents, or a text file's paragraphs. */
export function readInfillDocuments(input: string, max: number): { docs: string[]; source: string } {
  const limit = max > 0 ? max : Infinity;
  if (statSync(input).isDirectory()) {
    let docs: string[];
    try {
      docs = heldOutDocuments(input, limit);
    } catch (e) {
      throw new CliError(`--input ${input}: ${(e as Error).message}`);
    }
    return { docs, source: 'prepared folder (validation documents)' };
  }
  const paragraphs = readInputText(input)
    .split(/\n[ \t]*\n/u)
    .map((p) => p.trim())
    .filter(Boolean);
  return { docs: paragraphs.slice(0, limit), source: 'text file (paragraphs)' };
}

/** Scores every checkpoint (opened one at a time by `open`) on the same masked documents. */
export async function runInfillEval(
  paths: readonly string[],
  open: (path: string) => Promise<OpenedModel>,
  o: InfillEvalOptions,
): Promise<InfillEvalRun> {
  if (paths.length === 0) throw new CliError('--checkpoint is required');
  const { docs, source } = readInfillDocuments(o.input, o.maxExamples);
  if (!docs.some((d) => /\S/u.test(d))) throw new CliError(`--input ${o.input}: no document with a word to mask`);
  const checkpoints: InfillCheckpointResult[] = [];
  for (const path of paths) {
    const m = await open(path);
    try {
      if (o.mode !== 'l2r') {
        try {
          requireFim(m.tokenizer);
        } catch (e) {
          throw new CliError(
            `--checkpoint ${path}: ${(e as Error).message} (or pass --infillMode l2r for the left-to-right baseline)`,
          );
        }
      }
      o.log?.(`[${checkpoints.length + 1}] ${m.checkpoint.path} (step ${m.checkpoint.meta.step}): infill ${o.mode}`);
      const s = await scoreInfill(m.model, m.tokenizer, docs, {
        seed: o.seed,
        mode: o.mode,
        maxTokens: o.maxNewTokens,
        contextChars: o.contextChars,
      });
      const { documents, exactMatch, middleLoss, middleTokens } = s;
      checkpoints.push({
        checkpoint: m.checkpoint.path,
        step: m.checkpoint.meta.step,
        documents,
        exactMatch,
        middleLoss,
        middleTokens,
      });
    } finally {
      m.model.dispose();
    }
  }
  return { task: 'infill', mode: o.mode, input: o.input, source, checkpoints };
}

/** The terminal table: one line per checkpoint. */
export function formatInfillRun(run: InfillEvalRun): string {
  const out = [`task infill (${run.mode}) on ${run.input}: ${run.source}`];
  run.checkpoints.forEach((c, i) => {
    const em = (100 * c.exactMatch).toFixed(2);
    out.push(
      `[${i + 1}] ${c.checkpoint} (step ${c.step}): exact match ${em}% of ${c.documents} documents, ` +
        `middle loss ${c.middleLoss.toFixed(4)} nats/token over ${c.middleTokens} tokens`,
    );
  });
  return out.join('\n') + '\n';
}
