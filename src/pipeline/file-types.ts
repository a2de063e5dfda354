import path from 'node:path';

export type FileType = 'image' | 'raw' | 'video';

const IMAGE = 'jpg jpeg png gif bmp tif tiff webp heic heif avif jxl';
const RAW = 'cr2 cr3 crw nef nrw arw sr2 srf dng orf rw2 pef raf raw 3fr erf kdc mrw x3f srw';
const VIDEO = 'mp4 mov avi mkv wmv flv webm m4v mpg mpeg 3gp mts m2ts';

const byExtension = new Map<string, FileType>([
  ...IMAGE.split(' ').map((e) => [e, 'image'] as const),
  ...RAW.split(' ').map((e) => [e, 'raw'] as const),
  ...VIDEO.split(' ').map((e) => [e, 'video'] as const),
]);

/** Lower-case extension without the dot ('' when none). */
export function extensionOf(file: string): string {
  return path.extname(file).slice(1).toLowerCase();
}

/** The media type a file name says it is, or null for files Lumina does not catalog. */
export function fileTypeOf(file: string): FileType | null {
  return byExtension.get(extensionOf(file)) ?? null;
}

/** Images libvips cannot read directly here; their pixels come from the preview ExifTool extracts. */
export function needsEmbeddedPreview(ext: string, type: FileType): boolean {
  return type === 'raw' || ext === 'heic' || ext === 'heif';
}

export function isRawExt(ext: string): boolean {
  return byExtension.get(ext.toLowerCase()) === 'raw';
}
