/**
 * Paths and other user-given strings inside one-line messages. The CLI prints the first line of an
 * error, so a newline (or any control character) in a file name would cut the message and hide
 * the name: such strings are shown JSON-quoted ("a\nb.png"); ordinary ones are shown as they are.
 */

/** Control characters (C0, DEL, C1) and the Unicode line/paragraph separators. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** `text` as it should appear in a one-line message. */
export function showPath(text: string): string {
  return UNPRINTABLE.test(text) ? JSON.stringify(text) : text;
}
