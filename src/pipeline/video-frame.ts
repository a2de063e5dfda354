import { execFile, spawnSync } from 'node:child_process';

const found = new Map<string, string | null>();

/** The configured ffmpeg (config `ffmpeg`, default on PATH), looked up once; null when it is not installed. */
export function findFfmpeg(candidate = 'ffmpeg'): string | null {
  let hit = found.get(candidate);
  if (hit === undefined) {
    const probe = spawnSync(candidate, ['-hide_banner', '-version'], { stdio: 'ignore', timeout: 10_000 });
    found.set(candidate, (hit = probe.status === 0 ? candidate : null));
  }
  return hit;
}

/**
 * One representative frame as PNG bytes (a second in, or the middle of a shorter clip), scaled
 * down by ffmpeg itself so the full-size frame never crosses a pipe.
 */
export function extractVideoFrame(ffmpeg: string, file: string, durationS: number | null): Promise<Buffer> {
  const at = durationS && durationS > 0 ? Math.min(1, durationS / 2) : 0;
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-ss', at.toFixed(3), '-i', file, '-frames:v', '1',
    '-vf', "scale='min(512,iw)':-2", '-f', 'image2pipe', '-c:v', 'png', 'pipe:1'];
  return new Promise((resolve, reject) => {
    execFile(ffmpeg, args, { encoding: 'buffer', maxBuffer: 64 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err || stdout.length === 0) {
        const why = stderr.toString().trim().split('\n').at(-1) || (err ? err.message : 'no frame');
        reject(new Error(`ffmpeg could not extract a frame: ${why}`));
      } else resolve(stdout);
    });
  });
}
