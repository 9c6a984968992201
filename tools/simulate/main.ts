/**
 * `npm run simulate -- --url ws://127.0.0.1:8080/ws --users N [...]`: the WebSocket load
 * simulator. See `--help` and {@link runSimulation}.
 */
import { OptionsError, parseSimulateArgs, USAGE } from './options.ts';
import { runRehearsal } from './rehearsal.ts';
import { formatReport } from './report.ts';
import { runSimulation } from './run.ts';

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseSimulateArgs>;
  try {
    parsed = parseSimulateArgs(argv);
  } catch (error) {
    if (error instanceof OptionsError) {
      process.stderr.write(`simulate: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const controller = new AbortController();
  let firstInterruptAt: number | null = null;
  process.on('SIGINT', () => {
    if (firstInterruptAt === null) {
      firstInterruptAt = Date.now();
      process.stderr.write(
        '\nStopping: closing sockets and writing the report (Ctrl-C again to quit now)\n',
      );
      controller.abort();
    } else if (Date.now() - firstInterruptAt > 1000) {
      // A second SIGINT within a second is the first one relayed (tsx passes the signal on to
      // the process it runs, which the terminal has signalled already).
      process.exit(130);
    }
  });
  process.on('SIGTERM', () => controller.abort());
  const hooks = {
    signal: controller.signal,
    log: (line: string) => process.stdout.write(`${line}\n`),
  };
  if (parsed.rehearsal) {
    const { report, exitCode, logFile } = await runRehearsal(parsed.rehearsal, hooks);
    process.stdout.write(`${formatReport(report)}\n`);
    if (parsed.rehearsal.jsonFile)
      process.stdout.write(`JSON report: ${parsed.rehearsal.jsonFile}\n`);
    if (parsed.rehearsal.htmlFile)
      process.stdout.write(`HTML report: ${parsed.rehearsal.htmlFile}\n`);
    process.stdout.write(`Room log: ${logFile}\n`);
    return exitCode;
  }
  const { report, exitCode } = await runSimulation(parsed.options, hooks);
  process.stdout.write(`${formatReport(report)}\n`);
  if (parsed.options.jsonFile) process.stdout.write(`JSON report: ${parsed.options.jsonFile}\n`);
  if (parsed.options.htmlFile) process.stdout.write(`HTML report: ${parsed.options.htmlFile}\n`);
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`simulate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof OptionsError ? 2 : 1;
  },
);
