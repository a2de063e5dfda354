import sharp from 'sharp';
import { jpegWarning } from '../pipeline/pixels.js';
import type { WarningReply, WarningRequest } from './jpeg-warning.js';

// A process of its own, decoding one file at a time: the only place libvips's error text (one
// buffer per process, cleared by every call) is sure to be the decoder's words on this file.
sharp.concurrency(1);
sharp.cache(false);

let queue = Promise.resolve();
process.on('message', (req: WarningRequest) => {
  queue = queue.then(async () => {
    const reply: WarningReply = { id: req.id, warning: await jpegWarning(Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength), req.maxPixels) };
    process.send!(reply);
  });
});
// The thread that asked is gone (finished, or killed with its process): so is this.
process.on('disconnect', () => process.exit(0));
