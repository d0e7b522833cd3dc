/**
 * removeStaleTemps with shards on several hosts writing into one shared folder: a temporary file
 * of a dead process of this machine is removed, another machine's is left alone (its pid means
 * nothing here: removing it would break that host's rename mid-write).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeStaleTemps, tempPathFor } from '../../src/core/fsutil.js';
import { tempDir } from '../helpers.js';

test('stale temporaries: this host\'s dead ones go, other hosts\' stay, live ones stay', async (t) => {
  const dir = tempDir(t);
  const here = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
  const other = here === 'deadbeef' ? 'feedface' : 'deadbeef';
  const dead = 2 ** 22 + 12345; // above Linux's default pid_max (2^22): no such process
  const names = {
    mine: `.dnnkit-tmp-${dead}.${here}-1-a.png`,
    old: `.dnnkit-tmp-${dead}-1-b.png`, // written by an older version: taken as this host's
    foreign: `.dnnkit-tmp-${dead}.${other}-1-c.png`,
    live: path.basename(tempPathFor(path.join(dir, 'd.png'))),
  };
  for (const n of Object.values(names)) writeFileSync(path.join(dir, n), 'x');
  assert.match(names.live, new RegExp(`^\\.dnnkit-tmp-${process.pid}\\.${here}-\\d+-d\\.png$`));
  await removeStaleTemps(dir);
  assert.deepEqual(readdirSync(dir).sort(), [names.foreign, names.live].sort());
});
