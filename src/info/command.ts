/** `dnnkit info`: which backend is in use and why, versions, threads. */
import { Command } from 'commander';
import { addCommonOptions, action, type CommonOptions } from '../core/command.js';
import { initBackend, type BackendInfo } from '../core/backend.js';
import { createLogger } from '../core/log.js';

export async function run(opts: Pick<CommonOptions, 'backend' | 'json'>): Promise<BackendInfo> {
  const info = await initBackend(opts.backend);
  const log = createLogger(opts.json);
  log.info(`backend   ${info.name} (tfjs '${info.tfjsName}')`);
  log.info(`why       ${info.reason}`);
  log.info(`tfjs      ${info.tfjsVersion}`);
  log.info(`threads   ${info.name === 'node' ? 'TensorFlow default (all cores)' : info.threads}${info.name === 'wasm' ? `  (SIMD ${info.simd ? 'on' : 'off'})` : ''}`);
  log.info(`node      ${info.nodeVersion}`);
  if (info.warning) log.warn(info.warning);
  return info;
}

export function register(program: Command): void {
  addCommonOptions(
    program.command('info').description('show the tfjs backend in use and why, versions and threads'),
    'info',
  ).action(action(run));
}
