// Totals of a vitest JSON report, counted so that nothing failed hides as skipped: a test that
// a failing hook (beforeAll) skipped counts as failed, and so does a file that failed to load.
import { readFileSync } from 'node:fs';

interface AssertionResult {
  ancestorTitles: string[];
  title: string;
  status: string;
  failureMessages: string[];
}
interface FileResult {
  name: string;
  status: string;
  message?: string;
  assertionResults: AssertionResult[];
}
export interface VitestReport {
  testResults: FileResult[];
}

export interface Totals {
  passed: number;
  failed: number;
  skipped: number;
  /** Every failure by name: `file > describe > test: first line of the message`. */
  failures: string[];
}

/** Counts a vitest JSON report (see the file header for the rules). */
export function countReport(report: VitestReport, root = process.cwd()): Totals {
  const totals: Totals = { passed: 0, failed: 0, skipped: 0, failures: [] };
  for (const file of report.testResults) {
    const rel = file.name.startsWith(`${root}/`) ? file.name.slice(root.length + 1) : file.name;
    const fileFailed = file.status === 'failed';
    const failedHere = file.assertionResults.filter((a) => a.status === 'failed').length;
    for (const a of file.assertionResults) {
      const name = [rel, ...a.ancestorTitles, a.title].join(' > ');
      if (a.status === 'passed') totals.passed++;
      else if (a.status === 'failed') {
        totals.failed++;
        totals.failures.push(`${name}: ${firstLine(a.failureMessages[0] ?? '')}`);
      } else if (fileFailed && failedHere === 0) {
        // The file failed but none of its tests did: a hook failed and skipped this one.
        totals.failed++;
        totals.failures.push(
          `${name}: skipped by a failing hook: ${firstLine(file.message ?? '')}`,
        );
      } else totals.skipped++;
    }
    if (fileFailed && file.assertionResults.length === 0) {
      totals.failed++;
      totals.failures.push(`${rel}: the file failed: ${firstLine(file.message ?? '')}`);
    }
  }
  return totals;
}

/** The plain closing line CI reads: `N passed, N failed[, N skipped]`. */
export function totalsLine(t: Totals): string {
  return `${t.passed} passed, ${t.failed} failed${t.skipped ? `, ${t.skipped} skipped` : ''}`;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.slice(0, 300);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const file = process.argv[2];
  if (!file) {
    console.error('Usage: node --import tsx scripts/support/test-totals.ts REPORT.json');
    process.exit(2);
  }
  const totals = countReport(JSON.parse(readFileSync(file, 'utf8')) as VitestReport);
  for (const f of totals.failures) console.log(`FAILED ${f}`);
  console.log(totalsLine(totals));
}
