// What a run tells about itself: the opening lines (data, model, batch, config), and at the end
// summary.json and the closing lines (the final and best validation loss, the gain over the
// baseline, the speed, the adapter).
import { join } from 'node:path';
import { flopsPerToken, type GPTConfig } from '../model/config.ts';
import { formatConfig, type TrainConfig } from './config.ts';
import type { DataSet } from './objectives/pretrain.ts';
import type { LoopResult, TrainState } from './loop.ts';
import { formatDuration } from './metrics.ts';

export interface RunSummary {
  status: 'finished' | 'stopped';
  /** The signal that stopped the run (SIGINT, SIGTERM, SIGHUP), if one did. */
  stoppedBy?: string;
  steps: number;
  skippedSteps: number;
  finalValLoss: number | null;
  finalValPerplexity: number | null;
  unigramLoss: number | null;
  /** unigramLoss − finalValLoss: how much the model beats a unigram model, nats/token. */
  gainOverUnigram: number | null;
  bestValLoss: number | null;
  finalTrainLoss: number | null;
  /** Training tokens per second over the whole run (training steps only). */
  tokensPerSec: number;
  tokensSeen: number;
  /** Wall time of the run (all sessions of a resumed run), s. */
  elapsedSec: number;
  trainSec: number;
  evalSec: number;
  adapter: string;
  software: boolean;
  model: GPTConfig;
  params: number;
  /** Achieved training GFLOP/s (6·params·tokens + attention). */
  gflops: number;
  tokenizer: string;
  data: string;
  sample: string | null;
  checkpoint: string | null;
}

/** What the summary says besides the loop's result and state. */
export interface RunFacts {
  elapsedSec: number;
  unigramLoss: number | null;
  adapter: string;
  software: boolean;
  model: GPTConfig;
  params: number;
  tokenizer: string;
  data: string;
}

export function summarize(res: LoopResult, state: TrainState, f: RunFacts): RunSummary {
  const finished = res.status === 'finished';
  const last = finished ? state.lastValLoss : null;
  const tokensPerSec = state.trainSec > 0 ? state.tokensSeen / state.trainSec : 0;
  return {
    status: res.status,
    steps: res.step,
    skippedSteps: state.skippedSteps,
    finalValLoss: last,
    finalValPerplexity: last !== null ? Math.exp(last) : null,
    unigramLoss: f.unigramLoss,
    gainOverUnigram: last !== null && f.unigramLoss !== null ? f.unigramLoss - last : null,
    bestValLoss: state.bestValLoss,
    finalTrainLoss: res.lastLoss,
    tokensPerSec: Math.round(tokensPerSec),
    tokensSeen: state.tokensSeen,
    elapsedSec: Number(f.elapsedSec.toFixed(1)),
    trainSec: Number(state.trainSec.toFixed(1)),
    evalSec: Number(state.evalSec.toFixed(1)),
    adapter: f.adapter,
    software: f.software,
    model: f.model,
    params: f.params,
    gflops: Number(((tokensPerSec * flopsPerToken(f.model, f.model.blockSize)) / 1e9).toFixed(3)),
    tokenizer: f.tokenizer,
    data: f.data,
    sample: res.lastSample,
    checkpoint: res.lastCheckpoint,
  };
}

/** The closing lines: how to continue a stopped run, or what a finished one reached. */
export function reportRun(
  s: RunSummary,
  o: { totalSteps: number; elapsedSec: number; runDir: string },
  log: (line: string) => void,
): void {
  const { runDir } = o;
  if (s.status === 'stopped') {
    log(`stopped at step ${s.steps} of ${o.totalSteps}; checkpoint ${s.checkpoint}`);
    log(`continue with: webgpu-gpt pretrain --resume ${runDir}`);
    return;
  }
  const g = s.gainOverUnigram;
  const gap =
    g !== null
      ? `, ${Math.abs(g).toFixed(3)} nats ${g >= 0 ? 'below' : 'above'} the unigram loss ${s.unigramLoss!.toFixed(3)}`
      : '';
  log(
    `done: ${s.steps} steps in ${formatDuration(o.elapsedSec)}, final val loss ${s.finalValLoss?.toFixed(4) ?? '-'}` +
      ` (perplexity ${s.finalValPerplexity?.toFixed(2) ?? '-'})${gap}; ${s.tokensPerSec.toLocaleString('en-US')} tokens/s` +
      (s.skippedSteps ? `; ${s.skippedSteps} non-finite steps skipped` : ''),
  );
  log(`run folder: ${runDir} (summary.json, metrics.jsonl, loss.svg, samples.txt, checkpoints/)`);
}

/** The opening lines: the data, the model, the batch, the resolved config. */
export function logRun(
  log: (line: string) => void,
  r: { train: TrainConfig; model: GPTConfig; derived: { accumSteps: number; tokensPerStep: number; params: number } },
  data: DataSet,
  runDir: string,
): void {
  const { model: m, derived: d } = r;
  const n = (x: number): string => x.toLocaleString('en-US');
  const unigram = data.unigramLoss !== null ? `, unigram loss ${data.unigramLoss.toFixed(4)}` : '';
  log(
    `data: ${data.dir} (${n(data.train.length)} train / ${n(data.val.length)} val tokens, tokenizer ${data.tokenizer.id}${unigram})`,
  );
  log(
    `model: ${m.nLayer} layers, ${m.nHead} heads, ${m.nEmbd} wide, context ${m.blockSize}, vocabulary ${m.vocabSize} (padded ${m.paddedVocabSize}): ${(d.params / 1e6).toFixed(2)}M parameters`,
  );
  const micro = d.accumSteps > 1 ? ` x ${d.accumSteps} micro-batches` : '';
  log(`batch: ${r.train.batchSize} x ${m.blockSize} tokens${micro} = ${n(d.tokensPerStep)} tokens per step`);
  log(`config (saved to ${join(runDir, 'config.json')}):`);
  for (const line of formatConfig(r.train, 100)) log(`  ${line}`);
}
