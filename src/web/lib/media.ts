/** Whether the browser shows a file's original itself (else its thumbnail stands in for it). */
export function browserShows(f: { file_type?: string; ext?: string; path: string }): boolean {
  return f.file_type === 'image' && /^(jpe?g|png|webp|gif|avif)$/i.test(f.ext ?? f.path.split('.').pop() ?? '');
}
