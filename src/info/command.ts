/** `dnnkit info`: which backend is in use and why, versions, threads (on stdout). */
import { Command } from 'commander';
import { addCommonOptions, action, type CommonOptions } from '../core/command.js';
import { initBackend, type BackendInfo } from '../core/backend.js';
import { createLogger } from '../core/log.js';
import { dnnkitVersion } from '../core/run_record.js';

export async function run(opts: Pick<CommonOptions, 'backend' | 'json'>): Promise<BackendInfo> {
  const info = await initBackend(opts.backend);
  // The report is the command's result: stdout (with --json, the JSON document instead).
  const log = createLogger(opts.json);
  log.output(`dnnkit    ${dnnkitVersion()}`);
  log.output(`backend   ${info.name} (tfjs '${info.tfjsName}')`);
  log.output(`why       ${info.reason}`);
  log.output(`tfjs      ${info.tfjsVersion}`);
  log.output(`threads   ${info.name === 'node' ? 'TensorFlow default (all cores)' : info.threads}${info.name === 'wasm' ? `  (SIMD ${info.simd ? 'on' : 'off'})` : ''}`);
  log.output(`workers   train-mnist: 1 by default (trainOnBatch on the main thread); --workers N splits each batch over N threads (docs/CORES.md)`);
  log.output(`node      ${info.nodeVersion}`);
  if (info.warning) log.warn(info.warning);
  return info;
}

export function register(program: Command): void {
  addCommonOptions(
    program.command('info').description('show the tfjs backend in use and why, versions and threads'),
    'info',
  ).action(action(run));
}
