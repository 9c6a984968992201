/**
 * A stand-in service (an emulator on npm) in a Node process of its own: AWS runs its services on
 * machines of their own, and a service sharing the room's process would take its CPU from the API
 * Gateway stand-in and the front. The script is an ES module that prints the port it listens on.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

export interface ServiceProcess {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  child: ChildProcess;
  close(): Promise<void>;
}

/** Starts `script` and waits for the port it prints; fails with `name` if it prints none. */
export async function startServiceProcess(name: string, script: string): Promise<ServiceProcess> {
  // The service ends with its parent's end of stdin: a parent that dies leaves no orphan.
  const watched = `process.stdin.on('end', () => process.exit(0)); process.stdin.resume(); ${script}`;
  const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', watched], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit').then(() => {
    throw new Error(`${name} exited before it listened`);
  });
  const printed = once(child.stdout as NodeJS.ReadableStream, 'data') as Promise<[Buffer]>;
  const [chunk] = await Promise.race([printed, exited]);
  const port = Number.parseInt(chunk.toString('utf8'), 10);
  if (!Number.isInteger(port)) {
    child.kill();
    throw new Error(`${name} did not start: ${chunk.toString('utf8')}`);
  }
  exited.catch(() => {});
  return {
    endpoint: `http://127.0.0.1:${port}`,
    child,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = once(child, 'exit');
      child.kill();
      await gone;
    },
  };
}
