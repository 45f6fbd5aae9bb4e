// From a task's options to tokenized examples, in one call per task kind: read the data (a file
// or records already in memory), split it (explicit --val/--test or a seeded --valFraction,
// stratified for classification), tokenize each split with the checkpoint's tokenizer, and collect
// every report (records skipped per file, examples truncated per split) for the run's log.
import type { Tokenizer } from '../tokenizers/types.ts';
import {
  classifyExamples,
  sftExamples,
  type ClassifyExample,
  type ExampleReport,
  type SftExample,
} from './examples.ts';
import {
  readClassify,
  readSft,
  type ClassifyData,
  type ClassifyOptions,
  type ClassifyRecord,
  type Label,
  type RecordReport,
  type SftOptions,
  type SftRecord,
} from './records.ts';
import { classifySplits, sftSplits } from './splits.ts';

export interface SplitFiles {
  /** Validation file; without it, `valFraction` (default 0.1) of the data, drawn with `seed`. */
  val?: string;
  test?: string;
  valFraction?: number;
  seed?: number;
}

/** The records and examples of one split; records keep the text for evaluation and baselines. */
export interface PreparedSplit<R, E> {
  records: R[];
  examples: E[];
}

export interface PreparedTask<R, E> {
  train: PreparedSplit<R, E>;
  val: PreparedSplit<R, E>;
  test?: PreparedSplit<R, E>;
  /** Records read per file, then examples per split. */
  reports: (RecordReport | ExampleReport)[];
}

export interface SftTaskOptions extends SftOptions, SplitFiles {
  data: string | { records: SftRecord[]; report: RecordReport };
}

export function prepareSftTask(opts: SftTaskOptions, tok: Tokenizer, T: number): PreparedTask<SftRecord, SftExample> {
  const data = typeof opts.data === 'string' ? readSft(opts.data, opts) : opts.data;
  const val = opts.val === undefined ? undefined : readSft(opts.val, opts);
  const test = opts.test === undefined ? undefined : readSft(opts.test, opts);
  const split = sftSplits(data.records, data.report.file, { ...opts, val: val?.records, valFile: opts.val });
  const reports: (RecordReport | ExampleReport)[] = [
    data.report,
    ...(val ? [val.report] : []),
    ...(test ? [test.report] : []),
  ];
  const tokenize = (records: SftRecord[], name: string, file: string): PreparedSplit<SftRecord, SftExample> => {
    const { examples, report } = sftExamples(records, tok, T, file);
    reports.push({ ...report, file: `${file} (${name})` });
    return { records, examples };
  };
  return {
    train: tokenize(split.train, 'train', data.report.file),
    val: tokenize(split.val, 'validation', val ? val.report.file : data.report.file),
    test: test ? tokenize(test.records, 'test', test.report.file) : undefined,
    reports,
  };
}

export interface ClassifyTaskOptions extends ClassifyOptions, SplitFiles {
  data: string | ClassifyData;
}

export function prepareClassifyTask(
  opts: ClassifyTaskOptions,
  tok: Tokenizer,
  T: number,
): PreparedTask<ClassifyRecord, ClassifyExample> & { labels: Label[] } {
  const data = typeof opts.data === 'string' ? readClassify(opts.data, opts) : opts.data;
  const val = opts.val === undefined ? undefined : readClassify(opts.val, opts);
  const test = opts.test === undefined ? undefined : readClassify(opts.test, opts);
  const split = classifySplits(data, { ...opts, val, test });
  const reports: (RecordReport | ExampleReport)[] = [
    data.report,
    ...(val ? [val.report] : []),
    ...(test ? [test.report] : []),
  ];
  const tokenize = (
    records: ClassifyRecord[],
    name: string,
    file: string,
  ): PreparedSplit<ClassifyRecord, ClassifyExample> => {
    const { examples, report } = classifyExamples(records, split.labels, tok, T, file);
    reports.push({ ...report, file: `${file} (${name})` });
    return { records, examples };
  };
  return {
    labels: split.labels,
    train: tokenize(split.train, 'train', data.report.file),
    val: tokenize(split.val, 'validation', val ? val.report.file : data.report.file),
    test: test && split.test ? tokenize(split.test, 'test', test.report.file) : undefined,
    reports,
  };
}
