import { spawn, type ChildProcess } from 'node:child_process';

/** DCMTK client tools (storescu, findscu, movescu…) stall ~40 ms per exchange without this (dependencies.md). */
export const DCMTK_ENV = { ...process.env, TCP_NODELAY: '1' };

/** A PACS as hospitals run it: DCMTK-based servers leave Nagle's algorithm on unless TCP_NODELAY=1 is set. */
export const SHIPPED_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'TCP_NODELAY'),
);

export interface Started {
  process: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/**
 * Starts a long-running peer, keeping its output for error messages. It gets a process group of its own, and
 * `stop()` ends the whole group: dcmqrscp forks a child per association, which outlives its parent and would go on
 * serving the gateway's open associations as if the PACS were still up.
 */
export function startProcess(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Started {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? DCMTK_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const group = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // the group has ended
    }
  };
  let out = '';
  const keep = (chunk: Buffer): void => {
    out = (out + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    process: child,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = (): void => {
          group('SIGKILL'); // children still serving an association
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        group('SIGTERM');
        setTimeout(() => group('SIGKILL'), 3000).unref();
      }),
  };
}

/** Runs a command to completion and returns its output; rejects on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? DCMTK_ENV,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve({ stdout, stderr, code });
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stderr}${stdout}`));
    });
  });
}
